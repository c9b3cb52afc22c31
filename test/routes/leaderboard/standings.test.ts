import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { bearer, build } from '../../helper.ts'
import { admin, eventually, LEADERBOARD_TEST_CONFIG, leaderboard, postgresScores, redisRanking, seedCompetition, seedParticipants, seedUsers, updateScore } from './fixtures.ts'
import { inlineSchemaRefs } from '../../openapi-refs.ts'

test('ranks with ties (1, 2, 2, 4), tie-break by who reached first, cursor pages, around=me', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 6)
  await seedParticipants(app, competitionId, users)
  // Set in this order: users[2] reaches 50 before users[1] does.
  for (const [i, value] of [[0, 90], [2, 50], [1, 50], [3, 40], [4, 40], [5, 10]] as const) {
    t.equal((await updateScore(app, { competitionId, userId: users[i]!, value })).statusCode, 200)
  }
  const expected = [[0, 1, 90], [2, 2, 50], [1, 2, 50], [3, 4, 40], [4, 4, 40], [5, 6, 10]]

  const first = await leaderboard(app, competitionId, users[4]!, '?limit=4')
  t.equal(first.statusCode, 200)
  t.match(first.body, { competitionId, total: 6, degraded: false, around: null })
  t.same(first.body.entries.map((e: any) => [e.userId, e.rank, e.position, e.score]),
    expected.slice(0, 4).map(([i, rank, score], p) => [users[i!], rank, p + 1, score]))
  t.match(first.body.entries[0], { displayName: 'Runner 1', avatarUrl: 'https://img.example/1.png' })
  t.match(first.body.me, { userId: users[4], rank: 4, position: 5, score: 40 })

  const second = await leaderboard(app, competitionId, users[4]!, `?limit=4&cursor=${first.body.nextCursor}`)
  t.same(second.body.entries.map((e: any) => [e.userId, e.rank, e.position]), [[users[4], 4, 5], [users[5], 6, 6]])
  t.equal(second.body.nextCursor, null)

  const around = await leaderboard(app, competitionId, users[3]!, '?around=me&k=1&limit=1')
  t.same(around.body.around.map((e: any) => e.userId), [users[1], users[3], users[4]], 'one above and one below')
  t.match(around.body.me, { userId: users[3], rank: 4, position: 4 })

  const top = await leaderboard(app, competitionId, users[0]!, '?around=me&k=2')
  t.same(top.body.around.map((e: any) => e.userId), [users[0], users[2], users[1]], 'the first has nobody above')

  // A signed-in user who does not take part: no entry of their own, an empty neighbourhood.
  const outsider = await leaderboard(app, competitionId, randomUUID(), '?around=me')
  t.equal(outsider.statusCode, 200)
  t.match(outsider.body, { me: null, around: [], total: 6 })

  // A cursor whose entry has since moved still continues after its sort key.
  const stale = first.body.nextCursor
  t.equal((await updateScore(app, { competitionId, userId: users[3]!, value: 95 })).statusCode, 200)
  const after = await leaderboard(app, competitionId, users[0]!, `?limit=10&cursor=${stale}`)
  t.same(after.body.entries.map((e: any) => e.userId), [users[4], users[5]])
  t.same(after.body.entries.map((e: any) => e.rank), [5, 6], 'ranks reflect the move')
})

test('bad inputs: unknown competition 404, invalid ids 400, private competitions hidden, bad cursor 400', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const viewer = randomUUID()
  const unknown = await leaderboard(app, randomUUID(), viewer)
  t.equal(unknown.statusCode, 404)
  t.match(unknown.body, { code: 'NOT_FOUND', message: 'Competition not found' })
  t.equal((await leaderboard(app, 'not-a-uuid', viewer)).statusCode, 400)
  t.equal((await app.inject({ url: `/api/v1/leaderboard/${randomUUID()}` })).statusCode, 401)

  const privateId = await seedCompetition(app, { visibility: 'private' })
  const [member] = await seedUsers(app, 1)
  await seedParticipants(app, privateId, [member!])
  t.equal((await leaderboard(app, privateId, viewer)).statusCode, 404, 'hidden from outsiders')
  t.equal((await leaderboard(app, privateId, member!)).statusCode, 200, 'visible to participants')
  const asAdmin = await app.inject({ url: `/api/v1/leaderboard/${privateId}`, headers: admin })
  t.equal(asAdmin.statusCode, 200, 'visible to admins')

  const bad = await leaderboard(app, privateId, member!, '?cursor=garbage')
  t.equal(bad.statusCode, 400)
  t.equal((await leaderboard(app, privateId, member!, '?limit=1000')).statusCode, 400)
})

test('score updates: operators, exactly once per Idempotency-Key, and the rules', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const [a, b] = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, [a!, b!])

  const set = await updateScore(app, { competitionId, userId: a!, operation: 'set', value: 100 }, 'k-1')
  t.same(set.json(), { competitionId, userId: a, applied: true, duplicate: false, score: 100 })
  const retry = await updateScore(app, { competitionId, userId: a!, operation: 'set', value: 100 }, 'k-1')
  t.same(retry.json(), { competitionId, userId: a, applied: false, duplicate: true, score: 100 }, 'a retry changes nothing')
  t.match((await updateScore(app, { competitionId, userId: a!, operation: 'increment', value: 25 }, 'k-2')).json(), { applied: true, score: 125 })
  t.match((await updateScore(app, { competitionId, userId: a!, operation: 'increment', value: 25 }, 'k-2')).json(), { applied: false, duplicate: true, score: 125 })
  t.match((await updateScore(app, { competitionId, userId: a!, operation: 'best', value: 120 })).json(), { applied: false, duplicate: false, score: 125 })
  t.match((await updateScore(app, { competitionId, userId: a!, operation: 'best', value: 130 })).json(), { applied: true, score: 130 })
  t.match((await updateScore(app, { competitionId, userId: a!, operation: 'increment', value: -500 })).json(), { applied: true, score: 0 }, 'never below zero')

  const reused = await updateScore(app, { competitionId, userId: a!, operation: 'set', value: 7 }, 'k-1')
  t.equal(reused.statusCode, 409, 'a key reused for another update')
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1', [competitionId])
  t.equal(rows[0].n, 5, 'one score event per accepted key')

  // First to reach a score ranks higher: b reaches 50 first, a reaches it later.
  await updateScore(app, { competitionId, userId: b!, value: 50 })
  await updateScore(app, { competitionId, userId: a!, value: 50 })
  const board = await leaderboard(app, competitionId, a!)
  t.same(board.body.entries.map((e: any) => [e.userId, e.rank, e.position]), [[b, 1, 1], [a, 1, 2]])

  t.equal((await updateScore(app, { competitionId: randomUUID(), userId: a!, value: 1 })).statusCode, 404, 'unknown competition')
  const outsider = await updateScore(app, { competitionId, userId: randomUUID(), value: 1 })
  t.equal(outsider.statusCode, 404, 'not a participant')
  t.match(outsider.json(), { message: 'The user is not a participant of this competition' })
  const overflow = await updateScore(app, { competitionId, userId: a!, operation: 'increment', value: Number.MAX_SAFE_INTEGER })
  t.equal(overflow.statusCode, 422, 'past 2^53 - 1')

  const noKey = await app.inject({ method: 'POST', url: '/api/v1/leaderboard/update', headers: admin, payload: { competitionId, userId: a, operation: 'set', value: 1 } })
  t.equal(noKey.statusCode, 400)
  t.match(noKey.json(), { code: 'VALIDATION_ERROR' })
  t.equal((await updateScore(app, { competitionId, userId: a!, operation: 'set', value: -1 })).statusCode, 400)
  t.equal((await updateScore(app, { competitionId, userId: a!, operation: 'double' as string, value: 1 })).statusCode, 400)
  const asUser = await app.inject({ method: 'POST', url: '/api/v1/leaderboard/update', headers: { ...bearer({ sub: a! }), 'idempotency-key': 'x' }, payload: { competitionId, userId: a, operation: 'set', value: 1 } })
  t.equal(asUser.statusCode, 403, 'only trusted callers')
  const upper = await updateScore(app, { competitionId: competitionId.toUpperCase(), userId: a!.toUpperCase(), value: 55 })
  t.match(upper.json(), { applied: true, score: 55 }, 'ids in upper case name the same participant')
  t.match((await leaderboard(app, competitionId.toUpperCase(), a!)).body, { competitionId, me: { userId: a, score: 55 }, degraded: false })
  const asService = await app.inject({ method: 'POST', url: '/api/v1/leaderboard/update', headers: { ...bearer({ sub: randomUUID(), service: true }), 'idempotency-key': 'svc-1' }, payload: { competitionId, userId: a, operation: 'set', value: 60 } })
  t.equal(asService.statusCode, 200, 'the service role is trusted')

  const steps = await seedCompetition(app, { metric: 'steps' })
  await seedParticipants(app, steps, [a!])
  t.equal((await updateScore(app, { competitionId: steps, userId: a!, value: 1 })).statusCode, 409, 'fitness metrics score from sync')
  for (const status of ['scheduled', 'final', 'paid', 'cancelled']) {
    const closed = await seedCompetition(app, { status })
    await seedParticipants(app, closed, [a!])
    const res = await updateScore(app, { competitionId: closed, userId: a!, value: 1 })
    t.equal(res.statusCode, 409, `rejected while ${status}`)
  }
  const grace = await seedCompetition(app, { status: 'grace' })
  await seedParticipants(app, grace, [a!])
  t.equal((await updateScore(app, { competitionId: grace, userId: a!, value: 1 })).statusCode, 200, 'accepted in grace')
})

test('applyScores (the fitness write path) reports skips instead of failing the batch', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app, { metric: 'steps' })
  const finished = await seedCompetition(app, { metric: 'steps', status: 'final' })
  const [a, b] = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, [a!])
  await seedParticipants(app, finished, [a!])
  const results = await app.leaderboard.applyScores([
    { competitionId, userId: a!, operation: 'sync', value: 1200, idempotencyKey: 'day-1@v1' },
    { competitionId, userId: b!, operation: 'sync', value: 5, idempotencyKey: 'day-1@v1b' },
    { competitionId: finished, userId: a!, operation: 'sync', value: 5, idempotencyKey: 'late' },
    { competitionId: randomUUID(), userId: a!, operation: 'sync', value: 5, idempotencyKey: 'nowhere' },
    { competitionId, userId: a!, operation: 'sync', value: 1200, idempotencyKey: 'day-1@v1' },
    { competitionId, userId: a!, operation: 'sync', value: 1500, idempotencyKey: 'day-1@v2' },
    { competitionId: 'not-a-uuid', userId: a!, operation: 'sync', value: 5, idempotencyKey: 'malformed' },
    { competitionId, userId: 'not-a-uuid', operation: 'sync', value: 5, idempotencyKey: 'malformed-user' }
  ])
  t.same(results.map((r) => [r.applied, r.score, r.reason]), [
    [true, 1200, undefined], [false, 0, 'not_participant'], [false, 0, 'inactive'], [false, 0, 'unknown_competition'], [false, 1200, 'duplicate'], [true, 1500, undefined],
    [false, 0, 'unknown_competition'], [false, 0, 'invalid']
  ])
  t.same(await postgresScores(app, competitionId), new Map([[a!, 1500]]))
  // The projection is eventually consistent with Postgres (a start-up rebuild may still run).
  await eventually(async () => JSON.stringify(await redisRanking(app, competitionId)) === JSON.stringify([{ userId: a!, score: 1500 }]) ? true : undefined,
    5000, 'Redis to equal Postgres')
  t.same(await app.leaderboard.applyScores([]), [])
})

test('scores near 2^53 stay exact and ordered in Redis, Postgres and the API', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const [a, b, c] = await seedUsers(app, 3)
  await seedParticipants(app, competitionId, [a!, b!, c!])
  const max = Number.MAX_SAFE_INTEGER
  await updateScore(app, { competitionId, userId: a!, value: max - 1 })
  await updateScore(app, { competitionId, userId: b!, value: max })
  await updateScore(app, { competitionId, userId: c!, value: max - 1 })
  const expected = [[b, max], [a, max - 1], [c, max - 1]]
  await eventually(async () => JSON.stringify((await redisRanking(app, competitionId)).map((r) => [r.userId, r.score])) === JSON.stringify(expected) ? true : undefined,
    5000, 'Redis order and values')
  const board = await leaderboard(app, competitionId, a!)
  t.same(board.body.entries.map((e: any) => [e.userId, e.score, e.rank]), expected.map(([u, s], i) => [u, s, i === 0 ? 1 : 2]))
  const raw = await app.inject({ url: `/api/v1/leaderboard/${competitionId}`, headers: bearer({ sub: a! }) })
  t.match(raw.body, /"score":9007199254740991/, 'serialised without rounding')
  t.same(await postgresScores(app, competitionId), new Map([[a!, max - 1], [b!, max], [c!, max - 1]]))
})

test('the OpenAPI document states the ranking rule and the leaderboard routes', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const spec = inlineSchemaRefs((await app.inject({ url: '/docs/json' })).json())
  const get = spec.paths['/api/v1/leaderboard/{competitionId}'].get
  t.match(get.description, /reachedAt ascending/)
  t.match(get.responses['200'].content['application/json'].schema.description, /1, 2, 2, 4/)
  t.ok(spec.paths['/api/v1/leaderboard/update'].post.responses['409'])
  t.ok(spec.paths['/api/v1/admin/leaderboard/rebuild'].post)
  t.ok(spec.paths['/api/v1/admin/leaderboard/{competitionId}/rebuild'].post)
})

test('non-admins cannot rebuild; admins rebuild one competition or all running ones', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const denied = await app.inject({ method: 'POST', url: '/api/v1/admin/leaderboard/rebuild', headers: bearer({ sub: randomUUID() }) })
  t.equal(denied.statusCode, 403)
  const one = await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })
  t.same(one.json().rebuilt, [competitionId])
  const all = await app.inject({ method: 'POST', url: '/api/v1/admin/leaderboard/rebuild', headers: admin })
  t.equal(all.statusCode, 200)
  t.ok(all.json().rebuilt.includes(competitionId))
  const missing = await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${randomUUID()}/rebuild`, headers: admin })
  t.equal(missing.statusCode, 404)
})

test('a changed display name shows on the boards the user is on, past the cached page', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, users)
  await updateScore(app, { competitionId, userId: users[0]!, value: 10 })
  const before = await leaderboard(app, competitionId, users[1]!)
  t.match(before.body, { degraded: false, entries: [{ userId: users[0], displayName: 'Runner 1' }] })

  const renamed = await app.inject({ method: 'PUT', url: `/api/v1/users/${users[0]}/profile`, headers: bearer({ sub: users[0]! }), payload: { displayName: 'Ada Lovelace' } })
  t.equal(renamed.statusCode, 200)
  await eventually(async () => (await leaderboard(app, competitionId, users[1]!)).body.entries[0]?.displayName === 'Ada Lovelace' ? true : undefined,
    5000, 'the new name on the leaderboard')
  t.pass('the board shows the new name')
})
