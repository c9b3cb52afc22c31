import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { bearer, build, token } from '../helper.ts'
import { sample } from '../routes/fitness/fixtures.ts'
import { admin, liveClient, listen, seedCompetition, LEADERBOARD_TEST_CONFIG } from '../routes/leaderboard/fixtures.ts'

// One rule: the first authenticated call of any kind creates the caller's users row (from the
// token's claims), whatever the route and whether it then succeeds, so an admin can credit a
// user whose only call so far was GET /me.

type FirstCall = (app: FastifyInstance, userId: string, ctx: { competitionId: string, baseUrl: string }) => Promise<number>

const inject = async (app: FastifyInstance, userId: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object): Promise<number> =>
  (await app.inject({ method, url, headers: { ...bearer({ sub: userId }), 'idempotency-key': randomUUID() }, payload })).statusCode

const FIRST_CALLS: Record<string, [number, FirstCall]> = {
  'GET /me': [200, async (app, id) => await inject(app, id, 'GET', '/api/v1/me')],
  'GET own profile': [200, async (app, id) => await inject(app, id, 'GET', `/api/v1/users/${id}/profile`)],
  'PUT own profile': [200, async (app, id) => await inject(app, id, 'PUT', `/api/v1/users/${id}/profile`, { bio: 'hello' })],
  'GET the competitions': [200, async (app, id) => await inject(app, id, 'GET', '/api/v1/competitions')],
  'GET a leaderboard': [200, async (app, id, { competitionId }) => await inject(app, id, 'GET', `/api/v1/leaderboard/${competitionId}`)],
  'GET own fitness stats': [200, async (app, id) => await inject(app, id, 'GET', `/api/v1/fitness/stats/${id}`)],
  'POST a prize table preview': [200, async (app, id, { competitionId }) => await inject(app, id, 'POST', `/api/v1/prizes/calculate/${competitionId}`)],
  'POST a join': [200, async (app, id, { competitionId }) => await inject(app, id, 'POST', `/api/v1/competitions/${competitionId}/join`)],
  'POST a fitness sync': [200, async (app, id) => await inject(app, id, 'POST', '/api/v1/fitness/sync', { source: 'healthkit', samples: [sample({ start: Date.now() - 3_600_000, value: 10 })] })],
  'a refused admin call (403)': [403, async (app, id) => await inject(app, id, 'GET', '/api/v1/admin/flags')],
  'another user\'s profile (refused, 403)': [403, async (app, id) => await inject(app, id, 'PUT', `/api/v1/users/${randomUUID()}/profile`, { bio: 'x' })],
  'a live feed connection': [1000, async (_app, id, { competitionId, baseUrl }) => {
    const client = await liveClient(baseUrl, competitionId, { token: token({ sub: id }) })
    await client.next((f) => f.type === 'snapshot')
    await client.close()
    return 1000
  }]
}

test('the first authenticated call of any kind provisions the caller', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const baseUrl = await listen(app)
  const competitionId = await seedCompetition(app)
  const ctx = { competitionId, baseUrl }

  for (const [name, [expected, call]] of Object.entries(FIRST_CALLS)) {
    const userId = randomUUID()
    t.equal(await call(app, userId, ctx), expected, `${name}: answered as usual`)
    const credit = await app.inject({
      method: 'POST',
      url: `/api/v1/admin/users/${userId}/credit`,
      headers: { ...admin, 'idempotency-key': randomUUID() },
      payload: { amount: 100, currency: 'USD' }
    })
    t.equal(credit.statusCode, 201, `${name}, then an admin credit to that user: ${credit.body}`)
  }
})

test('provisioning seeds the row from the claims once, and a refused token provisions nobody', async (t) => {
  const app = await build(t)
  const userId = randomUUID()
  const claims = { user_metadata: { full_name: 'Ada Lovelace' } }
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ url: '/api/v1/me', headers: bearer({ sub: userId, claims }) })).statusCode, 200)
  }
  const { rows } = await app.pg.query('SELECT display_name, email FROM users WHERE id = $1', [userId])
  t.same(rows, [{ display_name: 'Ada Lovelace', email: `${userId.slice(0, 8)}@example.test` }])

  const stranger = randomUUID()
  const forged = `${token({ sub: stranger }).slice(0, -4)}AAAA`
  t.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${forged}` } })).statusCode, 401)
  t.equal((await app.pg.query('SELECT 1 FROM users WHERE id = $1', [stranger])).rowCount, 0)
})
