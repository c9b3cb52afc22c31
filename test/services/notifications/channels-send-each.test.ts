// The helpers every one-request-per-message sender shares: bounded concurrency, what a message
// without an answer becomes, and Retry-After.
import t from 'tap'
import { mapBounded, noAnswerReason, sendEach } from '../../../services/notifications/channels/send-each.ts'
import { retryAfterSeconds } from '../../../services/notifications/channels/retry-after.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function refused (code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code })
}

t.test('mapBounded keeps the order and never runs more than the limit at once', async (t) => {
  let running = 0
  let most = 0
  const out = await mapBounded(Array.from({ length: 40 }, (_, i) => i), 7, async (n) => {
    running++
    most = Math.max(most, running)
    await sleep(n % 3)
    running--
    return n * 2
  })
  t.same(out, Array.from({ length: 40 }, (_, i) => i * 2))
  t.equal(most, 7)
  t.same(await mapBounded([], 5, async () => 1), [])
})

t.test('sendEach: messages without an answer come back retryable beside the answered ones', async (t) => {
  const messages = [{ key: 'a' }, { key: 'b' }, { key: 'c' }]
  const results = await sendEach(messages, 2, async ({ key }) => {
    if (key === 'b') throw refused('ECONNRESET')
    return { key, outcome: 'sent', providerId: `id-${key}` }
  })
  t.same(results, [
    { key: 'a', outcome: 'sent', providerId: 'id-a' },
    { key: 'b', outcome: 'failed', reason: 'ECONNRESET', retryable: true },
    { key: 'c', outcome: 'sent', providerId: 'id-c' }
  ])
})

t.test('sendEach: no answer at all throws the batch back; an empty batch sends nothing', async (t) => {
  await t.rejects(sendEach([{ key: 'a' }, { key: 'b' }], 2, async () => { throw refused('ECONNREFUSED') }), { code: 'ECONNREFUSED' })
  t.same(await sendEach([], 2, async () => { throw new Error('not called') }), [])
})

t.test('noAnswerReason names the socket error, also inside fetch\'s cause, or a timeout', async (t) => {
  t.equal(noAnswerReason(refused('ETIMEDOUT')), 'ETIMEDOUT')
  t.equal(noAnswerReason(new TypeError('fetch failed', { cause: refused('UND_ERR_SOCKET') })), 'UND_ERR_SOCKET')
  t.equal(noAnswerReason(new DOMException('timed out', 'TimeoutError')), 'timeout')
  t.equal(noAnswerReason(new Error('??')), 'no_answer')
})

t.test('Retry-After as seconds or as an HTTP date', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.equal(retryAfterSeconds('120', now), 120)
  t.equal(retryAfterSeconds(' 5 ', now), 5)
  t.equal(retryAfterSeconds('Thu, 01 Jan 2026 00:00:30 GMT', now), 30)
  t.equal(retryAfterSeconds('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date past is now')
  t.equal(retryAfterSeconds('soon', now), undefined)
  t.equal(retryAfterSeconds(null, now), undefined)
  t.equal(retryAfterSeconds(undefined, now), undefined)
})
