import { test } from 'tap'
import { build } from '../../helper.ts'
import { addDays, zoneDay } from '../../../services/shared/time-zones.ts'
import { HOUR, insertCompetition, join, participant, person } from '../fitness/fixtures.ts'
import { startGarminFake } from '../../fakes/garmin.ts'
import { CONNECTION_TEST_CONFIG, connect, connectionOf, providerJobsSettled, storedTokens } from './fixtures.ts'

const CLIENT = { clientId: 'garmin-client', clientSecret: 'garmin-client-secret' }

test('Garmin: connect, push and ping to the leaderboard, forged and replayed notifications, refresh, disconnect', async (t) => {
  const fake = await startGarminFake({ ...CLIENT, accountId: 'd3315b1072421d0dd7c8f6b8e1de4df8' })
  t.teardown(fake.close)
  const app = await build(t, {
    config: {
      ...CONNECTION_TEST_CONFIG,
      GARMIN_CLIENT_ID: CLIENT.clientId,
      GARMIN_CLIENT_SECRET: CLIENT.clientSecret,
      GARMIN_API_URL: fake.url,
      GARMIN_TOKEN_URL: `${fake.url}/di-oauth2-service/oauth/token`
    }
  })
  const post = async (body: string) => await app.inject({ method: 'POST', url: '/api/v1/connections/garmin/webhook', headers: { 'content-type': 'application/json' }, payload: body })
  const alice = person()
  const today = zoneDay(new Date(), 'UTC')
  const competitionId = await insertCompetition(app, { startsAt: Date.now() - 72 * HOUR, endsAt: Date.now() + 24 * HOUR })
  await join(app, alice, competitionId)

  t.same(await connect(app, alice, 'garmin', fake.oauth), { provider: 'garmin', status: 'connected' })
  await providerJobsSettled(app)
  t.equal(fake.backfills.length, 1, 'a backfill of the last days was asked for (Garmin pushes it)')
  t.match(await connectionOf(app, alice, 'garmin'), { connected: true, externalUserId: 'd3315b1072421d0dd7c8f6b8e1de4df8' })

  // The backfilled day arrives by push and moves the leaderboard.
  const pushed = fake.push(addDays(today, -1), { steps: 8000, distanceInMeters: 6100, activeKilocalories: 350, moderateSeconds: 1200, vigorousSeconds: 600 })
  const withClient = await app.inject({ method: 'POST', url: '/api/v1/connections/garmin/webhook', headers: { 'content-type': 'application/json', 'garmin-client-id': CLIENT.clientId }, payload: pushed })
  t.equal(withClient.statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 8000)

  // Replayed push: counted once.
  t.equal((await post(pushed)).statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 8000, 'replay counted once')

  // Forged ping: a callback elsewhere than Garmin's API is refused and never fetched.
  const forged = await post(fake.ping('http://127.0.0.1:1'))
  t.equal(forged.statusCode, 400)
  t.match(forged.json().message, 'not on Garmin')
  t.same(fake.callbacks, [])
  // Bodies not in Garmin's shape, or naming another client, are refused and count nothing.
  const today2 = fake.push(today, { steps: 5 })
  for (const bad of ['[]', 'not json', '{"dailies":"x"}', '{"dailies":[{"steps":5}]}', '{"deregistrations":[{}]}',
    today2.replace(/"calendarDate":"[^"]+",/, '')]) {
    t.equal((await post(bad)).statusCode, 400, `refused: ${bad.slice(0, 40)}`)
  }
  const otherClient = await app.inject({ method: 'POST', url: '/api/v1/connections/garmin/webhook', headers: { 'content-type': 'application/json', 'garmin-client-id': 'someone-elses-app' }, payload: today2 })
  t.equal(otherClient.statusCode, 400)
  // Summary types not read here (the portal may send them) are acknowledged, not retried forever.
  t.equal((await post(JSON.stringify({ epochs: [{ userId: 'd3315b1072421d0dd7c8f6b8e1de4df8', summaryId: 'e1' }] }))).statusCode, 200)
  // A permission change is acknowledged and asks for nothing.
  t.equal((await post(JSON.stringify({ userPermissionsChange: [{ userId: 'd3315b1072421d0dd7c8f6b8e1de4df8', permissions: ['HEALTH_EXPORT'], changeTimeInSeconds: 1 }] }))).statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 8000, 'nothing refused was counted')
  // A push for an account nobody connected is acknowledged and dropped.
  t.equal((await post(fake.push(today, { steps: 1 }).replaceAll('d3315b1072421d0dd7c8f6b8e1de4df8', 'someone-else'))).statusCode, 200)

  // Ping with an expired token: refreshed, the callback fetched, today counted.
  fake.oauth.expireAll()
  fake.setDay(today, { steps: 2200 })
  t.equal((await post(fake.ping())).statusCode, 200)
  await providerJobsSettled(app)
  t.equal(fake.callbacks.length, 1)
  t.equal(fake.oauth.state.refreshes, 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 10200)

  const gone = await app.inject({ method: 'DELETE', url: `/api/v1/users/${alice.id}/connections/garmin`, headers: alice.headers })
  t.match(gone.json(), { provider: 'garmin', revoked: true })
  t.equal(fake.deregistered.length, 1, 'the registration was deleted at Garmin')
  t.equal(await storedTokens(app, alice.id, 'garmin'), undefined)
})

test('Garmin: a deregistration notification removes the connection', async (t) => {
  const fake = await startGarminFake({ ...CLIENT, accountId: 'aa11' })
  t.teardown(fake.close)
  const app = await build(t, {
    config: { ...CONNECTION_TEST_CONFIG, GARMIN_CLIENT_ID: CLIENT.clientId, GARMIN_CLIENT_SECRET: CLIENT.clientSecret, GARMIN_API_URL: fake.url, GARMIN_TOKEN_URL: `${fake.url}/di-oauth2-service/oauth/token` }
  })
  const bob = person()
  await connect(app, bob, 'garmin', fake.oauth)
  await providerJobsSettled(app)
  const res = await app.inject({ method: 'POST', url: '/api/v1/connections/garmin/webhook', headers: { 'content-type': 'application/json' }, payload: fake.deregistration() })
  t.equal(res.statusCode, 200)
  await providerJobsSettled(app)
  t.match(await connectionOf(app, bob, 'garmin'), { connected: false })
})
