import { test } from 'tap'
import { randomBytes } from 'node:crypto'
import { build, createTestDatabase } from '../../helper.ts'
import { zoneDay } from '../../../services/shared/time-zones.ts'
import { dailyTotals, person } from '../fitness/fixtures.ts'
import { startFitbitFake } from '../../fakes/fitbit.ts'
import { CONNECTION_TEST_CONFIG, connect, providerJobsSettled, storedTokens } from './fixtures.ts'

const CLIENT = { clientId: 'rot', clientSecret: 'rotation-secret' }

test('a new key first in the ring re-seals stored tokens at start-up, and they keep working', async (t) => {
  const fake = await startFitbitFake({ ...CLIENT, accountId: 'ROT001' })
  t.teardown(fake.close)
  const databaseUrl = await createTestDatabase(t)
  const k1 = `k1:${randomBytes(32).toString('base64')}`
  const config = (keys: string) => ({
    ...CONNECTION_TEST_CONFIG, PROVIDER_TOKEN_KEYS: keys, FITBIT_CLIENT_ID: CLIENT.clientId, FITBIT_CLIENT_SECRET: CLIENT.clientSecret, FITBIT_API_URL: fake.url
  })
  const alice = person()

  const first = await build(t, { databaseUrl, config: config(k1) })
  await connect(first, alice, 'fitbit', fake.oauth)
  await providerJobsSettled(first)
  t.match((await storedTokens(first, alice.id, 'fitbit'))!.access_token, /^v1\.k1\./)
  await first.close()

  const second = await build(t, { databaseUrl, config: config(`k2:${randomBytes(32).toString('base64')},${k1}`) })
  const tokens = await storedTokens(second, alice.id, 'fitbit')
  t.match(tokens!.access_token, /^v1\.k2\./)
  t.match(tokens!.refresh_token, /^v1\.k2\./)

  const today = zoneDay(new Date(), 'UTC')
  fake.setDay(today, { steps: 777 })
  const note = fake.notification([{ date: today }])
  const res = await second.inject({
    method: 'POST', url: '/api/v1/connections/fitbit/webhook', headers: { 'content-type': 'application/json', 'x-fitbit-signature': note.signature }, payload: note.body
  })
  t.equal(res.statusCode, 204)
  await providerJobsSettled(second)
  t.ok((await dailyTotals(second, alice.id)).some((d) => d.day === today && d.metric === 'steps' && d.value === 777))
})
