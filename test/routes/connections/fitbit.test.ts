import { test } from 'tap'
import { build } from '../../helper.ts'
import { addDays, zoneDay } from '../../../services/shared/time-zones.ts'
import { HOUR, eventually, insertCompetition, join, participant, person } from '../fitness/fixtures.ts'
import { startFitbitFake } from '../../fakes/fitbit.ts'
import { CONNECTION_TEST_CONFIG, connect, connectionOf, providerJobsSettled, storedTokens } from './fixtures.ts'

const CLIENT = { clientId: '23ABCD', clientSecret: 'fitbit-client-secret' }

async function setUp (t: Parameters<typeof build>[0]) {
  const fake = await startFitbitFake({ ...CLIENT, accountId: 'GGNJL9' })
  t.teardown(fake.close)
  const app = await build(t, {
    config: {
      ...CONNECTION_TEST_CONFIG,
      FITBIT_CLIENT_ID: CLIENT.clientId,
      FITBIT_CLIENT_SECRET: CLIENT.clientSecret,
      FITBIT_VERIFICATION_CODE: 'verify-me-123',
      FITBIT_SUBSCRIBER_ID: '7',
      FITBIT_API_URL: fake.url,
      FITBIT_AUTHORIZE_URL: 'https://www.fitbit.com/oauth2/authorize'
    }
  })
  return { app, fake }
}

const post = async (app: Awaited<ReturnType<typeof build>>, note: { body: string, signature: string }) =>
  await app.inject({
    method: 'POST',
    url: '/api/v1/connections/fitbit/webhook',
    headers: { 'content-type': 'application/json', 'x-fitbit-signature': note.signature },
    payload: note.body
  })

test('Fitbit: connect, webhook to leaderboard, forged and replayed notifications, refresh, disconnect', async (t) => {
  const { app, fake } = await setUp(t)
  const alice = person()
  const today = zoneDay(new Date(), 'UTC')
  const competitionId = await insertCompetition(app, { startsAt: Date.now() - 3 * 24 * HOUR, endsAt: Date.now() + 24 * HOUR })
  await join(app, alice, competitionId)
  fake.setDay(addDays(today, -1), { steps: 4000, distanceKm: 3.2, activityCalories: 210, fairlyActiveMinutes: 10, veryActiveMinutes: 5 })

  // The subscriber verification handshake.
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/connections/fitbit/webhook?verify=verify-me-123' })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/connections/fitbit/webhook?verify=wrong' })).statusCode, 404)

  t.same(await connect(app, alice, 'fitbit', fake.oauth), { provider: 'fitbit', status: 'connected' })
  const exchange = fake.oauth.state.exchanges[0]!
  t.equal(exchange.grant_type, 'authorization_code')
  t.ok(exchange.code_verifier!.length >= 43, 'the PKCE verifier is sent with the code')
  await providerJobsSettled(app)
  t.same(fake.subscriptions, [{ subscriptionId: 'GGNJL9', subscriberId: '7' }], 'the user is subscribed to activity notifications')
  t.same([...fake.dayRequests].sort(), [addDays(today, -2), addDays(today, -1), today], 'the last three days are backfilled')
  t.equal((await participant(app, competitionId, alice.id)).score, 4000)
  const status = await connectionOf(app, alice, 'fitbit')
  t.match(status, { connected: true, status: 'active', externalUserId: 'GGNJL9', lastError: null })
  t.ok(status.lastSyncAt !== null)

  // Tokens are sealed at rest.
  const sealed = await storedTokens(app, alice.id, 'fitbit')
  t.ok(sealed!.access_token.startsWith('v1.k1.'))
  t.notOk(fake.oauth.accessTokens().some((tok) => sealed!.access_token.includes(tok)), 'no plain token in the database')

  // A webhook moves the leaderboard.
  fake.setDay(today, { steps: 2500 })
  const note = fake.notification([{ date: today }])
  t.equal((await post(app, note)).statusCode, 204)
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 6500)
  const board = await app.inject({ method: 'GET', url: `/api/v1/leaderboard/${competitionId}`, headers: alice.headers })
  t.equal(board.json().entries[0].score, 6500)

  // A forged notification (signed with another secret) is refused and fetches nothing.
  fake.setDay(today, { steps: 90000 })
  const before = fake.dayRequests.length
  const forged = await post(app, fake.notification([{ date: today }], 'not-the-secret'))
  t.equal(forged.statusCode, 404)
  t.equal(forged.json().code, 'NOT_FOUND')
  t.equal(fake.dayRequests.length, before)

  // A replayed notification fetches the same day again and counts it once.
  fake.setDay(today, { steps: 2500 })
  t.equal((await post(app, note)).statusCode, 204)
  await providerJobsSettled(app)
  t.equal(fake.dayRequests.length, before + 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 6500, 'replay counted once')

  // Expired access token: the job refreshes (rotating the refresh token) and goes on.
  fake.oauth.expireAll()
  fake.setDay(today, { steps: 3000 })
  t.equal((await post(app, fake.notification([{ date: today }]))).statusCode, 204)
  await providerJobsSettled(app)
  t.equal(fake.oauth.state.refreshes, 1)
  t.equal((await participant(app, competitionId, alice.id)).score, 7000)
  t.not((await storedTokens(app, alice.id, 'fitbit'))!.access_token, sealed!.access_token, 'the new tokens are stored')

  // A notification that never came: the periodic reconciliation pulls the last days.
  fake.setDay(today, { steps: 3300 })
  t.equal(await app.connections.reconcile(), 1, 'one active connection to reconcile')
  await providerJobsSettled(app)
  t.equal((await participant(app, competitionId, alice.id)).score, 7300)

  // Disconnect: revoked at Fitbit, tokens deleted, the data already counted stays.
  const [currentToken] = fake.oauth.accessTokens().slice(-1)
  const gone = await app.inject({ method: 'DELETE', url: `/api/v1/users/${alice.id}/connections/fitbit`, headers: alice.headers })
  t.equal(gone.statusCode, 200, gone.body)
  t.same(gone.json(), { provider: 'fitbit', revoked: true, deletedRecords: 0 })
  t.same(fake.oauth.state.revoked, [currentToken])
  t.equal(await storedTokens(app, alice.id, 'fitbit'), undefined)
  t.match(await connectionOf(app, alice, 'fitbit'), { connected: false, status: 'disconnected' })
  t.equal((await participant(app, competitionId, alice.id)).score, 7300)
  // Later notifications for the account are acknowledged and dropped.
  const requests = fake.dayRequests.length
  t.equal((await post(app, fake.notification([{ date: today }]))).statusCode, 204)
  await providerJobsSettled(app)
  t.equal(fake.dayRequests.length, requests)
})

test('Fitbit: a refused authorization, a replayed redirect and a rate-limited fetch', async (t) => {
  const { app, fake } = await setUp(t)
  const bob = person()
  const begun = await app.inject({ method: 'POST', url: `/api/v1/users/${bob.id}/connections/fitbit`, headers: bob.headers })
  t.equal(begun.statusCode, 201)
  const url = new URL(begun.json().authorizeUrl)
  t.equal(url.origin + url.pathname, 'https://www.fitbit.com/oauth2/authorize')
  t.equal(url.searchParams.get('scope'), 'activity profile')
  t.equal(url.searchParams.get('redirect_uri'), 'http://localhost/api/v1/connections/fitbit/callback')

  const redirect = new URL(fake.oauth.consent(begun.json().authorizeUrl))
  const path = `${redirect.pathname}${redirect.search}`
  t.equal((await app.inject({ method: 'GET', url: path })).statusCode, 200)
  const again = await app.inject({ method: 'GET', url: path })
  t.equal(again.statusCode, 400, 'a redirect is used once')
  t.match(again.json().message, 'already used')

  // Someone else's state cannot be completed with a made-up one.
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/connections/fitbit/callback?code=x&state=made-up-state' })).statusCode, 400)

  // The user says no at Fitbit.
  const other = person()
  const denied = await app.inject({ method: 'POST', url: `/api/v1/users/${other.id}/connections/fitbit`, headers: other.headers })
  const state = new URL(denied.json().authorizeUrl).searchParams.get('state')
  const refusal = await app.inject({ method: 'GET', url: `/api/v1/connections/fitbit/callback?error=access_denied&state=${state}` })
  t.same(refusal.json(), { provider: 'fitbit', status: 'failed', reason: 'Fitbit answered: access_denied' })

  // Rate limited (429 with Retry-After): retried after the wait, the data arrives.
  await providerJobsSettled(app)
  const today = zoneDay(new Date(), 'UTC')
  fake.setDay(today, { steps: 1234 })
  fake.rateLimitNext(3)
  t.equal((await post(app, fake.notification([{ date: today }]))).statusCode, 204)
  await eventually(async () => {
    const { rows } = await app.pg.query('SELECT value::float8 AS v FROM daily_totals WHERE user_id = $1 AND local_day = $2 AND metric = \'steps\'', [bob.id, today])
    return rows[0]?.v === 1234 ? true : undefined
  }, 15_000)
})
