import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { build } from '../helper.ts'
import { startRedisServer } from '../processes.ts'
import {
  eventually, leaderboard, LEADERBOARD_TEST_CONFIG, listen, liveClient, postgresScores, redisRanking,
  seedCompetition, seedParticipants, seedUsers, updateScore
} from '../routes/leaderboard/fixtures.ts'
import { HOUR, insertCompetition, join, person, sample, sync } from '../routes/fitness/fixtures.ts'

// A private redis-server is killed (SIGKILL, data gone) in the middle of a stream of score
// updates and fitness syncs, then started again empty. Every request that got a 2xx is in
// Postgres, nothing else is a 5xx but 503, reads degrade to Postgres, and once Redis is back
// the projection is rebuilt to equal Postgres and live clients get a fresh snapshot, all
// without restarting the app.

interface Sent { kind: 'score' | 'sync', res: LightMyRequestResponse, key: string, value: number, userId: string }

test('Redis killed during score updates and syncs', async (t) => {
  const redis = await startRedisServer(t)
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, MAX_EVENT_LOOP_DELAY_MS: 0, REDIS_URL: redis.url } })
  const url = await listen(app)

  const custom = await seedCompetition(app)
  const players = await seedUsers(app, 5)
  await seedParticipants(app, custom, players)
  const now = Date.now()
  const steps = await insertCompetition(app, { startsAt: now - 3 * HOUR, endsAt: now + 24 * HOUR })
  const walkers = [person(), person(), person()]
  for (const w of walkers) await join(app, w, steps)

  const client = await liveClient(url, custom, { userId: players[0] })
  t.teardown(() => client.close())
  await client.next((f) => f.type === 'snapshot')

  const sent: Sent[] = []
  let minute = 0
  async function round (): Promise<void> {
    const requests: Array<Promise<Sent>> = []
    for (const userId of players.slice(0, 3)) {
      const key = randomUUID()
      const value = 1 + Math.floor(Math.random() * 9)
      requests.push(updateScore(app, { competitionId: custom, userId, operation: 'increment', value }, key)
        .then((res) => ({ kind: 'score' as const, res, key, value, userId })))
    }
    for (const walker of walkers.slice(0, 2)) {
      // One-minute samples on distinct minutes: nothing overlaps, nothing looks like cheating.
      const externalId = randomUUID()
      const value = 50 + Math.floor(Math.random() * 100)
      const body = { source: 'healthkit', samples: [sample({ externalId, start: now - 2 * HOUR + (minute++) * 60_000, minutes: 1, value })] }
      requests.push(sync(app, walker, body).then((res) => ({ kind: 'sync' as const, res, key: externalId, value, userId: walker.id })))
    }
    sent.push(...await Promise.all(requests))
  }

  for (let i = 0; i < 4; i++) await round()
  const framesBeforeOutage = client.frames.length
  await redis.kill()
  t.notOk(redis.running(), 'Redis is gone')
  for (let i = 0; i < 6; i++) await round()

  const degraded = await leaderboard(app, custom, players[0]!)
  t.equal(degraded.statusCode, 200, 'reads still answer')
  t.equal(degraded.body.degraded, true, 'from Postgres, marked degraded')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { message: 'redis unavailable' })

  await redis.start()
  // Traffic resumes once this instance is subscribed again: a quiet feed would only catch up
  // with its next frame (the rebuild's reset can be published before the subscriber is back).
  await eventually(async () => app.redisSubscriber.status === 'ready', 10_000, 'the subscriber reconnected')
  for (let i = 0; i < 4; i++) await round()

  const statuses = sent.map((s) => s.res.statusCode)
  t.same(statuses.filter((s) => s >= 500 && s !== 503), [], 'no 5xx other than 503')
  t.same(statuses.filter((s) => s >= 400 && s < 500), [], 'no 4xx either: every request was valid')
  t.ok(statuses.filter((s) => s >= 200 && s < 300).length >= sent.length / 2, `${statuses.filter((s) => s < 300).length}/${sent.length} accepted`)
  t.comment(`statuses: ${[...new Set(statuses)].map((s) => `${s}x${statuses.filter((x) => x === s).length}`).join(' ')}`)

  // Every accepted score update is a score event; the scores are exactly the sum of committed ones.
  const { rows: events } = await app.pg.query<{ idempotency_key: string }>('SELECT idempotency_key FROM score_events WHERE competition_id = $1', [custom])
  const committed = new Set(events.map((e) => e.idempotency_key))
  const scoreWrites = sent.filter((s) => s.kind === 'score')
  t.same(scoreWrites.filter((s) => s.res.statusCode === 200 && !committed.has(s.key)).map((s) => s.key), [], 'every 200 score update is in Postgres')
  const scores = await postgresScores(app, custom)
  for (const userId of players.slice(0, 3)) {
    const expected = scoreWrites.filter((s) => s.userId === userId && committed.has(s.key)).reduce((sum, s) => sum + s.value, 0)
    t.equal(scores.get(userId), expected, 'score = sum of committed increments, none twice')
  }

  // Every accepted sync's sample is stored, and the steps competition counts exactly those.
  const { rows: samples } = await app.pg.query<{ external_id: string, user_id: string, value: number }>(
    'SELECT external_id, user_id, value::float8 AS value FROM fitness_samples WHERE user_id = ANY($1) AND NOT deleted', [walkers.map((w) => w.id)])
  const stored = new Set(samples.map((s) => s.external_id))
  const syncs = sent.filter((s) => s.kind === 'sync')
  t.same(syncs.filter((s) => s.res.statusCode === 200 && !stored.has(s.key)).map((s) => s.key), [], 'every 200 sync is in Postgres')
  const stepScores = await postgresScores(app, steps)
  for (const walker of walkers.slice(0, 2)) {
    const total = samples.filter((s) => s.user_id === walker.id).reduce((sum, s) => sum + s.value, 0)
    t.equal(stepScores.get(walker.id), total, 'the steps score counts every stored sample')
  }

  // The projection is rebuilt from Postgres by itself, for both competitions.
  for (const competitionId of [custom, steps]) {
    const pg = await postgresScores(app, competitionId)
    await eventually(async () => {
      const ranking = await redisRanking(app, competitionId).catch(() => [])
      return ranking.length === pg.size && ranking.every((r) => pg.get(r.userId) === r.score)
    }, 10_000, `Redis equal to Postgres for ${competitionId}`)
  }
  t.pass('Redis equals Postgres again')
  const back = await leaderboard(app, custom, players[0]!)
  t.equal(back.body.degraded, false, 'reads come from Redis again')

  // Live clients catch up: the socket kept open through the outage receives a fresh snapshot,
  // and with the updates after it shows exactly what Postgres has; a new socket starts from it.
  const expected = await postgresScores(app, custom)
  const view = () => {
    const after = client.frames.slice(framesBeforeOutage)
    const last = after.map((f) => f.type).lastIndexOf('snapshot')
    if (last === -1) return undefined
    const scores = new Map<string, number>(after[last].entries.map((e: any) => [e.userId, e.score]))
    for (const f of after.slice(last + 1)) if (f.type === 'update') for (const e of f.entries) scores.set(e.userId, e.score)
    return scores
  }
  const caughtUp = () => players.every((p) => view()?.get(p) === expected.get(p))
  await eventually(async () => caughtUp(), 10_000, 'the open socket caught up').catch(() => {})
  t.ok(view(), 'a socket kept open through the outage receives a fresh snapshot')
  t.ok(caughtUp(), 'and then shows exactly the scores in Postgres')
  const current = (f: any) => f.type === 'snapshot' && players.every((p) => f.entries.some((e: any) => e.userId === p && e.score === expected.get(p)))
  const again = await liveClient(url, custom, { userId: players[0] })
  t.teardown(() => again.close())
  t.ok(current(await again.next((f) => f.type === 'snapshot')), 'a reconnecting client gets the current snapshot')
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'readiness recovers')
})
