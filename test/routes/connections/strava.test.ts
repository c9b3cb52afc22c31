import { test } from 'tap'
import { build } from '../../helper.ts'
import { HOUR, insertCompetition, join, participant, person } from '../fitness/fixtures.ts'
import { startStravaFake } from '../../fakes/strava.ts'
import { CONNECTION_TEST_CONFIG, connect, connectionOf, providerJobsSettled, storedTokens } from './fixtures.ts'

const CLIENT = { clientId: '54321', clientSecret: 'strava-client-secret' }

test('Strava: connect, activity events to the leaderboard, forged and replayed events, refresh, disconnect', async (t) => {
  const fake = await startStravaFake({ ...CLIENT, athleteId: 134815 })
  t.teardown(fake.close)
  const app = await build(t, {
    config: {
      ...CONNECTION_TEST_CONFIG,
      STRAVA_CLIENT_ID: CLIENT.clientId,
      STRAVA_CLIENT_SECRET: CLIENT.clientSecret,
      STRAVA_VERIFY_TOKEN: 'STRAVA',
      STRAVA_SUBSCRIPTION_ID: '120475',
      STRAVA_API_URL: fake.url
    }
  })
  const post = async (body: string) => await app.inject({ method: 'POST', url: '/api/v1/connections/strava/webhook', headers: { 'content-type': 'application/json' }, payload: body })
  const alice = person()
  const competitionId = await insertCompetition(app, { metric: 'distance_m', startsAt: Date.now() - 72 * HOUR, endsAt: Date.now() + 24 * HOUR })
  await join(app, alice, competitionId)
  const runStart = new Date(Date.now() - 30 * HOUR).toISOString().slice(0, 19) + 'Z'
  fake.setActivity(1001, { distance: 5000.5, calories: 410, movingTime: 1800, elapsedTime: 1900, start: runStart })

  // The subscription validation: the challenge is echoed only for our verify token.
  const hello = await app.inject({ method: 'GET', url: '/api/v1/connections/strava/webhook?hub.mode=subscribe&hub.challenge=15f7d1a9&hub.verify_token=STRAVA' })
  t.equal(hello.statusCode, 200)
  t.same(hello.json(), { 'hub.challenge': '15f7d1a9' })
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/connections/strava/webhook?hub.mode=subscribe&hub.challenge=x&hub.verify_token=nope' })).statusCode, 403)

  t.same(await connect(app, alice, 'strava', fake.oauth), { provider: 'strava', status: 'connected' })
  await providerJobsSettled(app)
  t.same(fake.reads, [1001], 'the backfill read the run in the last days')
  t.equal((await participant(app, competitionId, alice.id)).score, 5001)
  t.match(await connectionOf(app, alice, 'strava'), { connected: true, externalUserId: '134815' })

  // A new activity through the webhook moves the leaderboard.
  fake.setActivity(1002, { distance: 3000, movingTime: 1200, elapsedTime: 1300, start: new Date(Date.now() - 3 * HOUR).toISOString() })
  const created = fake.event({ objectId: 1002, aspect: 'create' })
  t.equal((await post(created)).statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 8001)

  // Forged: not our subscription. Refused, nothing read.
  const reads = fake.reads.length
  const forged = await post(fake.event({ objectId: 1002, aspect: 'create', subscriptionId: 999 }))
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'FORBIDDEN')
  t.equal(fake.reads.length, reads)

  // Replayed: read again, counted once.
  t.equal((await post(created)).statusCode, 200)
  await providerJobsSettled(app)
  t.equal(fake.reads.length, reads + 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 8001, 'replay counted once')

  // Expired token: refreshed, then the edited activity replaces the first read.
  fake.oauth.expireAll()
  fake.setActivity(1002, { distance: 3500, movingTime: 1200, elapsedTime: 1300, start: new Date(Date.now() - 3 * HOUR).toISOString() })
  t.equal((await post(fake.event({ objectId: 1002, aspect: 'update', updates: { title: 'Tempo' } }))).statusCode, 200)
  await providerJobsSettled(app)
  t.equal(fake.oauth.state.refreshes, 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 8501)

  // Deleted at Strava: its distance no longer counts.
  t.equal((await post(fake.event({ objectId: 1002, aspect: 'delete' }))).statusCode, 200)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 5001)

  // Disconnect: deauthorized at Strava, tokens gone.
  const gone = await app.inject({ method: 'DELETE', url: `/api/v1/users/${alice.id}/connections/strava?deleteData=true`, headers: alice.headers })
  t.same(gone.json(), { provider: 'strava', revoked: true, deletedRecords: 3 })
  t.equal(fake.deauthorized.length, 1)
  t.equal(await storedTokens(app, alice.id, 'strava'), undefined)
  t.equal((await participant(app, competitionId, alice.id)).score, 0, 'deleteData removed the runs and the competition was recomputed')
})

test('Strava: the athlete revoking access at Strava removes the connection', async (t) => {
  const fake = await startStravaFake({ ...CLIENT, athleteId: 777 })
  t.teardown(fake.close)
  const app = await build(t, {
    config: { ...CONNECTION_TEST_CONFIG, STRAVA_CLIENT_ID: CLIENT.clientId, STRAVA_CLIENT_SECRET: CLIENT.clientSecret, STRAVA_VERIFY_TOKEN: 'S', STRAVA_SUBSCRIPTION_ID: '120475', STRAVA_API_URL: fake.url }
  })
  const bob = person()
  await connect(app, bob, 'strava', fake.oauth)
  await providerJobsSettled(app)
  const res = await app.inject({
    method: 'POST', url: '/api/v1/connections/strava/webhook', headers: { 'content-type': 'application/json' }, payload: fake.event({ objectId: 777, aspect: 'update', objectType: 'athlete', updates: { authorized: 'false' } })
  })
  t.equal(res.statusCode, 200)
  await providerJobsSettled(app)
  t.match(await connectionOf(app, bob, 'strava'), { connected: false, status: 'disconnected' })
})
