import { test } from 'tap'
import { createSendRate } from '../../../services/notifications/send-rate.ts'

// The per-instance send rate: a second's worth goes at once, then messages wait for the clock.
// The clock is the test's, so nothing here depends on how fast the machine is.

test('a second\'s worth goes at once; the next waits until the clock has refilled it', async (t) => {
  let now = 0
  const take = createSendRate(100, () => now)
  await take(60)
  await take(40)
  let sent = false
  const next = take(50).then(() => { sent = true })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.notOk(sent, 'nothing left: the batch waits while the clock stands still')
  now += 499
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.notOk(sent, 'not before half a second has refilled fifty')
  now += 1
  await next
  t.ok(sent, 'sent once the bucket holds fifty')
})

test('a batch larger than a second\'s worth goes when the bucket is full, and the debt is paid after', async (t) => {
  let now = 0
  const take = createSendRate(10, () => now)
  await take(25)
  let sent = false
  const next = take(1).then(() => { sent = true })
  now += 1500
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.notOk(sent, 'fifteen over: one and a half seconds only pay them back')
  now += 100
  await next
  t.ok(sent)
})
