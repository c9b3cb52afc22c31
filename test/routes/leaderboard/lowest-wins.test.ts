import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build } from '../../helper.ts'
import {
  admin, eventually, flushPrefix, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, redisRanking, seedCompetition, seedUsers, updateScore
} from './fixtures.ts'

// A competition where the lowest score wins (a fastest time): the same order and tie rule in
// Redis, in the Postgres fallback, in pages both ways, in the live feed's snapshot and in prizes.

const join = async (app: FastifyInstance, competitionId: string, userId: string) =>
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/join`, headers: bearer({ sub: userId }) })

const board = (body: any) => body.entries.map((e: any) => [e.userId, e.score, e.rank, e.position])

async function race (app: FastifyInstance, opts: Record<string, unknown> = {}) {
  const competitionId = await seedCompetition(app, { scoreOrder: 'lowest_wins', ...opts })
  const [a, b, c, d, e] = await seedUsers(app, 5) as [string, string, string, string, string]
  for (const user of [a, b, c, d, e]) t0(await join(app, competitionId, user))
  return { competitionId, a, b, c, d, e }
}
function t0 (res: { statusCode: number, body: string }): void {
  if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`join failed: ${res.statusCode} ${res.body}`)
}

test('lowest wins: the lowest time leads, ties go to whoever reached it first, and a participant is on the board from their first score', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, a, b, c, d, e } = await race(app)
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM participants WHERE competition_id = $1 AND lowest_wins', [competitionId])
  t.equal(rows[0].n, 5, 'every join took the competition\'s order')
  t.match((await leaderboard(app, competitionId, a)).body, { total: 0, entries: [] }, 'nobody has a time yet: an empty board, not five zeros')

  for (const [user, value] of [[a, 300], [b, 250], [c, 250], [d, 400]] as Array<[string, number]>) {
    t.equal((await updateScore(app, { competitionId, userId: user, value })).statusCode, 200)
  }
  const expected = [[b, 250, 1, 1], [c, 250, 1, 2], [a, 300, 3, 3], [d, 400, 4, 4]]
  const read = await eventually(async () => {
    const r = await leaderboard(app, competitionId, e, '?around=me&k=1')
    return r.body.total === 4 && r
  }, 5000, 'four on the board')
  t.same(board(read.body), expected, 'ascending; b reached 250 before c; ranks 1, 1, 3, 4')
  t.equal(read.body.me, null, 'a participant without a time is not ranked')
  t.same(await redisRanking(app, competitionId), expected.map(([userId, score]) => ({ userId, score })), 'the sorted set holds the same order')

  // Pages forward and back.
  const first = await leaderboard(app, competitionId, a, '?limit=3')
  t.same(board(first.body), expected.slice(0, 3))
  const second = await leaderboard(app, competitionId, a, `?limit=3&cursor=${first.body.nextCursor}`)
  t.same(board(second.body), expected.slice(3))
  const back = await leaderboard(app, competitionId, a, `?limit=3&cursor=${second.body.prevCursor}`)
  t.same(board(back.body), expected.slice(0, 3), 'back to the same entries')

  // best keeps the lower time; a first score of 0 is a score like any other.
  t.match((await updateScore(app, { competitionId, userId: a, operation: 'best', value: 200 })).json(), { applied: true, score: 200 })
  t.match((await updateScore(app, { competitionId, userId: a, operation: 'best', value: 500 })).json(), { applied: false, score: 200 })
  t.match((await updateScore(app, { competitionId, userId: e, operation: 'set', value: 0 })).json(), { applied: true, score: 0 })
  const now = await leaderboard(app, competitionId, a, '?around=me&k=1')
  t.same(board(now.body), [[e, 0, 1, 1], [a, 200, 2, 2], [b, 250, 3, 3], [c, 250, 3, 4], [d, 400, 5, 5]])
  t.match(now.body.me, { userId: a, rank: 2, score: 200 })

  // The Postgres fallback answers the same, pages included.
  await flushPrefix(app)
  const degraded = await eventually(async () => {
    const r = await leaderboard(app, competitionId, a, '?around=me&k=1')
    return r.body.degraded === true && r
  }, 5000, 'a degraded read')
  t.same({ ...degraded.body, degraded: false }, now.body, 'Postgres ranks lowest first with the same ties')
  const pgFirst = await leaderboard(app, competitionId, a, '?limit=2')
  const pgSecond = await leaderboard(app, competitionId, a, `?limit=2&cursor=${pgFirst.body.nextCursor}`)
  t.same(board(pgSecond.body), board(now.body).slice(2, 4), 'the next page from the first page\'s cursor')
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })).statusCode, 200)
  const rebuilt = await leaderboard(app, competitionId, a, '?around=me&k=1')
  t.equal(rebuilt.body.degraded, false)
  t.same(board(rebuilt.body), board(now.body), 'a rebuild loads the same order')

  // My competitions rank people the same way.
  const mine = await app.inject({ url: `/api/v1/users/${c}/competitions`, headers: bearer({ sub: c }) })
  t.equal(mine.statusCode, 200)
  t.match(mine.json().items.find((i: any) => i.competition.id === competitionId), { rank: 3, score: 250 })
})

test('lowest wins: a participant without a time ranks after everyone with one wherever a rank is given, and wins nothing', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, a, b, c, d } = await race(app, { sponsorPrize: 1000, prizeSplit: { type: 'percent', places: [50, 30, 20] } })
  for (const [user, value] of [[a, 300], [b, 250], [c, 250]] as Array<[string, number]>) await updateScore(app, { competitionId, userId: user, value })
  const prizes = await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${competitionId}`, headers: admin })
  t.equal(prizes.statusCode, 200)
  t.same(prizes.json().winners.map((w: any) => [w.userId, w.rank, w.amount]), [[b, 1, 400], [c, 1, 400], [a, 3, 200]],
    'the tie for the lowest time shares first and second place; nothing for those without a time')
  const mine = await app.inject({ url: `/api/v1/users/${d}/competitions`, headers: bearer({ sub: d }) })
  t.match(mine.json().items.find((i: any) => i.competition.id === competitionId), { rank: 4, score: 0 }, 'after the three with a time')
})

test('lowest wins: only for a custom metric, and fixed once someone joined', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const startsAt = new Date(Date.now() + 3600_000).toISOString()
  const endsAt = new Date(Date.now() + 7200_000).toISOString()
  const steps = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: admin, payload: { name: 'Fewest steps', metric: 'steps', startsAt, endsAt, scoreOrder: 'lowest_wins' } })
  t.equal(steps.statusCode, 400)
  t.match(steps.json().message, /scoreOrder lowest_wins needs the custom metric/)
  const created = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: admin, payload: { name: 'Fastest 5 km', metric: 'custom', startsAt, endsAt, scoreOrder: 'lowest_wins' } })
  t.equal(created.statusCode, 201)
  t.equal(created.json().scoreOrder, 'lowest_wins')
  const id = created.json().id
  const toSteps = await app.inject({ method: 'PATCH', url: `/api/v1/competitions/${id}`, headers: admin, payload: { metric: 'steps' } })
  t.equal(toSteps.statusCode, 400, 'the metric cannot leave custom while the lowest wins')
  const flip = await app.inject({ method: 'PATCH', url: `/api/v1/competitions/${id}`, headers: admin, payload: { scoreOrder: 'highest_wins' } })
  t.equal(flip.statusCode, 200)
  t.equal(flip.json().scoreOrder, 'highest_wins')
  const [runner] = await seedUsers(app, 1)
  t0(await join(app, id, runner!))
  const late = await app.inject({ method: 'PATCH', url: `/api/v1/competitions/${id}`, headers: admin, payload: { scoreOrder: 'lowest_wins' } })
  t.equal(late.statusCode, 409)
  t.match(late.json().message, /scoreOrder can only change before the first participant joins/)
})

test('lowest wins on the live feed: frames rank the lowest first, and a watcher\'s own rank moves when someone beats their time', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, a, b, c } = await race(app)
  await updateScore(app, { competitionId, userId: a, value: 300 })
  await updateScore(app, { competitionId, userId: b, value: 250 })
  await eventually(async () => {
    const r = await leaderboard(app, competitionId, a)
    return r.body.degraded === false && r.body.total === 2
  }, 5000, 'projection ready')
  const client = await liveClient(await listen(app), competitionId, { userId: a })
  t.teardown(() => client.close())
  const snapshot = await client.next((f) => f.type === 'snapshot')
  t.match(snapshot, { total: 2, me: { userId: a, rank: 2, score: 300 } })
  t.same(snapshot.entries.map((e: any) => [e.userId, e.rank]), [[b, 1], [a, 2]])

  // c's first time beats a's: a drops to third.
  await updateScore(app, { competitionId, userId: c, value: 280 })
  const passed = await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.userId === c))
  t.match(passed.entries.find((e: any) => e.userId === c), { rank: 2, position: 2, score: 280, previousScore: null })
  t.match(passed.me, { rank: 3, previousRank: 2, score: 300 }, 'worked out from the frame with the competition\'s order')
  t.equal(passed.total, 3)

  // A slower time from b moves b below a: a climbs back to second.
  await updateScore(app, { competitionId, userId: b, value: 350 })
  const climbed = await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.userId === b && e.score === 350))
  t.match(climbed.me, { rank: 2, previousRank: 3, score: 300 })
})
