import { test } from 'tap'
import { build } from '../../helper.ts'
import { addDays, zoneDay } from '../../../services/shared/time-zones.ts'
import { HOUR, insertCompetition, join, participant, person } from '../fitness/fixtures.ts'
import { startOuraFake } from '../../fakes/oura.ts'
import { CONNECTION_TEST_CONFIG, connect, connectionOf, providerJobsSettled, storedTokens } from './fixtures.ts'

const CLIENT = { clientId: 'OURA-CLIENT', clientSecret: 'oura-client-secret' }

test('Oura: connect, signed notifications to the leaderboard, forged, stale and replayed ones, refresh, disconnect', async (t) => {
  const fake = await startOuraFake({ ...CLIENT, accountId: 'b1c2d3e4-oura-user' })
  t.teardown(fake.close)
  const app = await build(t, {
    config: {
      ...CONNECTION_TEST_CONFIG,
      OURA_CLIENT_ID: CLIENT.clientId,
      OURA_CLIENT_SECRET: CLIENT.clientSecret,
      OURA_VERIFICATION_TOKEN: 'oura-verify',
      OURA_API_URL: fake.url
    }
  })
  const post = async (note: { body: string, headers: Record<string, string> }) =>
    await app.inject({ method: 'POST', url: '/api/v1/connections/oura/webhook', headers: note.headers, payload: note.body })
  const alice = person()
  const today = zoneDay(new Date(), 'UTC')
  const competitionId = await insertCompetition(app, { startsAt: Date.now() - 72 * HOUR, endsAt: Date.now() + 24 * HOUR })
  await join(app, alice, competitionId)
  fake.setDocument('doc-y', { day: addDays(today, -1), steps: 6000 })
  fake.setDocument('doc-yy', { day: addDays(today, -2), steps: 1000 })

  const hello = await app.inject({ method: 'GET', url: '/api/v1/connections/oura/webhook?verification_token=oura-verify&challenge=a7d3c1' })
  t.same(hello.json(), { challenge: 'a7d3c1' })
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/connections/oura/webhook?verification_token=wrong&challenge=a7d3c1' })).statusCode, 401)

  t.same(await connect(app, alice, 'oura', fake.oauth), { provider: 'oura', status: 'connected' })
  await providerJobsSettled(app)
  t.match(await connectionOf(app, alice, 'oura'), { connected: true, externalUserId: 'b1c2d3e4-oura-user' })
  t.equal((await participant(app, competitionId, alice.id)).score, 7000, 'both pages of the backfill counted')

  fake.setDocument('doc-today', { day: today, steps: 2500, walkingMetres: 1800, activeCalories: 120, highSeconds: 600, mediumSeconds: 1200 })
  const note = fake.notification('doc-today', { eventType: 'create' })
  t.equal((await post(note)).statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 9500)

  // Forged (another secret) and stale (signed long ago): refused, nothing read.
  const reads = fake.reads.length
  const forged = await post(fake.notification('doc-today', { secret: 'not-the-secret' }))
  t.equal(forged.statusCode, 401)
  t.equal(forged.json().code, 'UNAUTHORIZED')
  t.equal((await post(fake.notification('doc-today', { timestamp: String(Math.floor(Date.now() / 1000) - 3600) }))).statusCode, 401)
  t.equal(fake.reads.length, reads)

  // Replayed within the window: read again, counted once.
  t.equal((await post(note)).statusCode, 200)
  await providerJobsSettled(app)
  t.equal(fake.reads.length, reads + 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 9500, 'replay counted once')

  // Other data types are acknowledged and ignored.
  t.equal((await post(fake.notification('sleep-1', { dataType: 'sleep' }))).statusCode, 200)

  // Expired token: refreshed, the grown day replaces the earlier read.
  fake.oauth.expireAll()
  fake.setDocument('doc-today', { day: today, steps: 3100 })
  t.equal((await post(fake.notification('doc-today'))).statusCode, 200)
  await providerJobsSettled(app)
  t.equal(fake.oauth.state.refreshes, 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 10100)

  const gone = await app.inject({ method: 'DELETE', url: `/api/v1/users/${alice.id}/connections/oura`, headers: alice.headers })
  t.match(gone.json(), { provider: 'oura', revoked: true })
  t.equal(fake.revoked.length, 1)
  t.equal(await storedTokens(app, alice.id, 'oura'), undefined)
  t.equal((await participant(app, competitionId, alice.id)).score, 10100, 'data already counted stays')
})
