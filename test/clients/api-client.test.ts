import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createApiClient } from '../../clients/index.ts'
import { build } from '../helper.ts'
import { listen } from '../browser/chromium.ts'
import { eventually, RACE_CONFIG, startRace } from './race.ts'

// The generated client as an integrator uses it, against the app on a real port: create a
// competition, join it, sync fitness data from a phone, read the leaderboard.
t.test('typed client: create, join, sync, read the leaderboard', async (t) => {
  const app = await build(t, { config: RACE_CONFIG })
  const baseUrl = await listen(app)

  // Created and joined through the client (see race.ts); the window opened 50 s ago.
  const race = await startRace(baseUrl, { names: ['Ada', 'Grace', 'Alan'], metric: 'steps', name: 'Morning walk', startedMsAgo: 50_000 })
  const [ada, grace, alan] = race.racers

  const { data: competition } = await ada!.api.GET('/api/v1/competitions/{id}', { params: { path: { id: race.competitionId } } })
  t.match(competition, { name: 'Morning walk', metric: 'steps', status: 'active', participantCount: 3 })

  // Each phone pushes one HealthKit sample inside the window.
  const end = Date.now() - 1000
  const steps = new Map([[ada!.id, 120], [grace!.id, 200], [alan!.id, 60]])
  for (const r of race.racers) {
    const { data, error } = await r.api.POST('/api/v1/fitness/sync', {
      body: {
        source: 'healthkit',
        samples: [{
          externalId: randomUUID(),
          version: 1,
          metric: 'steps',
          kind: 'sample',
          startTime: new Date(end - 40_000).toISOString(),
          endTime: new Date(end).toISOString(),
          value: steps.get(r.id)!,
          recordingMethod: 'automatic',
          tzOffsetMinutes: 0
        }]
      }
    })
    t.equal(error, undefined, `${r.name}'s sync is accepted`)
    t.match(data, { source: 'healthkit', received: 1, inserted: 1, flagged: [] })
    t.same(data?.competitions.map((c) => [c.competitionId, c.score]), [[race.competitionId, steps.get(r.id)]], `${r.name}'s score moved`)
  }

  // The leaderboard, as Alan sees it: ordered by steps, with his own entry.
  const board = await eventually('the leaderboard to show every sync', async () => {
    const { data } = await alan!.api.GET('/api/v1/leaderboard/{competitionId}', {
      params: { path: { competitionId: race.competitionId }, query: { limit: 10, around: 'me', k: 1 } }
    })
    return data?.entries.every((e) => e.score > 0) ? data : undefined
  })
  t.equal(board.total, 3)
  t.same(board.entries.map((e) => [e.rank, e.displayName, e.score]), [[1, 'Grace', 200], [2, 'Ada', 120], [3, 'Alan', 60]])
  t.match(board.me, { userId: alan!.id, rank: 3, score: 60 })
  t.same(board.around?.map((e) => e.displayName), ['Ada', 'Alan'], 'around=me: one neighbour above, none below')

  // Errors come back typed, in the service's one error shape.
  const missing = await ada!.api.GET('/api/v1/competitions/{id}', { params: { path: { id: randomUUID() } } })
  t.equal(missing.response.status, 404)
  t.match(missing.error, { statusCode: 404, code: 'NOT_FOUND' })
  const anonymous = await createApiClient(baseUrl).GET('/api/v1/leaderboard/{competitionId}', { params: { path: { competitionId: race.competitionId } } })
  t.equal(anonymous.response.status, 401)
  t.match(anonymous.error, { statusCode: 401, code: 'UNAUTHORIZED' })

  // A token asked for before every request (a session that refreshes itself).
  let asked = 0
  const refreshing = createApiClient(baseUrl, () => { asked += 1; return ada!.token })
  const me = await refreshing.GET('/api/v1/me')
  t.match(me.data, { id: ada!.id })
  t.equal(asked, 1)
})
