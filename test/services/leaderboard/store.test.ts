import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers } from '../../routes/leaderboard/fixtures.ts'
import { createLeaderboardStore, type LeaderboardStore } from '../../../services/leaderboard/store.ts'
import type { ScoreChange } from '../../../services/leaderboard/score-batch.ts'
import { withTransaction, type TransactionPool } from '../../../services/shared/transactions.ts'

// applyChanges sends its statements as array literals in two round trips, so these cover what
// bound parameters did before: text kept exactly, and a key taken by a concurrent transaction.
// The last test holds a batch to the rule applied change by change.

// A batch as the service runs it: one transaction in the helper's folded mode.
async function apply (pool: TransactionPool, store: LeaderboardStore, changes: ScoreChange[]) {
  return await withTransaction(pool, async (tx, folded) => await store.applyChanges(tx, folded, changes), { folded: true })
}

test('idempotency keys with quotes, backslashes and SQL in them are stored exactly', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const [userId] = await seedUsers(app, 1)
  await seedParticipants(app, competitionId, [userId!], { emit: false })
  const store = createLeaderboardStore()
  const keys = ["it's", 'back\\slash', "'); DROP TABLE score_events; --", 'ünïcödé ✓', '\\\'"']
  const { results } = await apply(app.pg.pool, store, keys.map((idempotencyKey, i) => ({ competitionId, userId: userId!, operation: 'increment' as const, value: i + 1, idempotencyKey })))
  t.same(results.map((r) => r.applied), [true, true, true, true, true])
  const { rows } = await app.pg.query('SELECT idempotency_key FROM score_events WHERE competition_id = $1 ORDER BY id', [competitionId])
  t.same(rows.map((r) => r.idempotency_key), keys)
  const again = await apply(app.pg.pool, store, [{ competitionId, userId: userId!, operation: 'increment', value: 3, idempotencyKey: keys[2]! }])
  t.equal(again.results[0]!.reason, 'duplicate', 'the stored key is found again')
  const { rows: [participant] } = await app.pg.query('SELECT score::int FROM participants WHERE competition_id = $1', [competitionId])
  t.equal(participant.score, 15)
})

test('a key committed by another transaction after the batch looked fails the batch as a serialisation failure, writing nothing', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const [userId, other] = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, [userId!, other!], { emit: false })
  const store = createLeaderboardStore()
  const key = randomUUID()

  // Another transaction holds the key, not yet committed: the batch does not see it and waits
  // on the unique index when it inserts.
  const holder = await app.pg.connect()
  t.teardown(() => holder.release())
  await holder.query('BEGIN')
  await holder.query(`INSERT INTO score_events (competition_id, user_id, idempotency_key, operation, value, score_before, score_after)
    VALUES ($1, $2, $3, 'set', 7, 0, 7)`, [competitionId, userId, key])
  const applying = apply(app.pg.pool, store, [
    { competitionId, userId: other!, operation: 'set', value: 5, idempotencyKey: randomUUID() },
    { competitionId, userId: userId!, operation: 'set', value: 7, idempotencyKey: key }
  ])
  // Expected to fail; the check is attached now, since the batch may fail before the holder's
  // COMMIT is answered here, and a rejection nobody handles yet fails the test.
  const failed = t.rejects(applying, { code: '40001' })
  const waiting = async () => (await app.pg.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).rows[0].n
  for (let i = 0; i < 100 && await waiting() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  await holder.query('COMMIT')
  await failed
  const { rows } = await app.pg.query('SELECT user_id, score::int FROM participants WHERE competition_id = $1 ORDER BY user_id', [competitionId])
  t.same(rows.map((r) => r.score), [0, 0], 'neither change of the failed batch was written')
  const { rows: [events] } = await app.pg.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1', [competitionId])
  t.equal(events.n, 1, 'only the other transaction\'s event')
})

test('a batch with no well-formed change is answered without asking Postgres', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const store = createLeaderboardStore()
  let queries = 0
  const counting = { query: async (...args: Parameters<typeof app.pg.query>) => { queries++; return await app.pg.query(...args) }, release: () => {}, on: () => {}, off: () => {} }
  const { results, projected } = await apply({ connect: async () => counting } as never, store, [
    { competitionId: 'not-a-uuid', userId: randomUUID(), operation: 'set', value: 1, idempotencyKey: 'a' },
    { competitionId: randomUUID(), userId: randomUUID(), operation: 'set', value: -1, idempotencyKey: 'b' }
  ])
  t.same(results.map((r) => r.reason), ['unknown_competition', 'invalid'])
  t.same(projected, [])
  t.equal(queries, 0)
})

// The rule, change by change, as a batch must apply it.
function model (scores: Map<string, number>, used: Map<string, string>, change: ScoreChange, participants: Set<string>): { applied: boolean, score: number, reason?: string } {
  if (!participants.has(change.userId)) return { applied: false, score: 0, reason: 'not_participant' }
  const before = scores.get(change.userId) ?? 0
  const next = change.operation === 'increment' ? Math.max(0, before + change.value) : change.operation === 'best' ? Math.max(before, change.value) : change.value
  if (!Number.isSafeInteger(next)) return { applied: false, score: before, reason: 'invalid' }
  const what = `${change.userId}|${change.operation}|${change.value}`
  const first = used.get(change.idempotencyKey)
  if (first !== undefined) return { applied: false, score: before, reason: first === what ? 'duplicate' : 'key_reused' }
  used.set(change.idempotencyKey, what)
  scores.set(change.userId, next)
  return next === before ? { applied: false, score: before, reason: 'unchanged' } : { applied: true, score: next }
}

test('a batch with the same participant and the same keys several times equals its changes applied one by one, in lock order', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 4)
  const participants = new Set(users.slice(0, 3))
  await seedParticipants(app, competitionId, [...participants], { emit: false })
  const store = createLeaderboardStore()
  const scores = new Map<string, number>()
  const used = new Map<string, string>()
  const max = Number.MAX_SAFE_INTEGER
  const change = fc.record({
    userId: fc.constantFrom(...users),
    operation: fc.constantFrom('set', 'increment', 'best') as fc.Arbitrary<ScoreChange['operation']>,
    value: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(max, max - 1)),
    negative: fc.boolean(),
    // A few keys, so they come back within a batch and across batches.
    idempotencyKey: fc.oneof(fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6'), fc.uuid())
  }).map(({ negative, ...c }) => ({ ...c, competitionId, value: c.operation === 'increment' && negative ? -c.value : c.value }))
  let batches = 0
  await fc.assert(fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 12 }), async (batch) => {
    batches++
    // Changes are applied in lock order: by participant, each participant's in batch order.
    const expected: Array<ReturnType<typeof model>> = new Array(batch.length)
    const order = batch.map((_, i) => i).sort((a, b) => batch[a]!.userId.localeCompare(batch[b]!.userId) || a - b)
    for (const i of order) expected[i] = model(scores, used, batch[i]!, participants)
    const { results, projected } = await apply(app.pg.pool, store, batch)
    t.same(results.map(({ applied, score, reason }) => reason === undefined ? { applied, score } : { applied, score, reason }), expected, JSON.stringify(batch))
    const changed = [...new Set(batch.filter((_, i) => expected[i]!.applied).map((c) => c.userId))].sort()
    t.same(projected.map((p) => p.userId).sort(), changed, 'each changed participant projected once')
    for (const p of projected) t.equal(p.score, scores.get(p.userId))
  }), { numRuns: 40, endOnFailure: true }) // no shrinking: every run changes the stored state
  const stored = await app.pg.query<{ user_id: string, score: string }>('SELECT user_id, score::text FROM participants WHERE competition_id = $1', [competitionId])
  t.same(new Map(stored.rows.map((r) => [r.user_id, Number(r.score)])), new Map([...participants].map((u) => [u, scores.get(u) ?? 0])), `Postgres equals the model after ${batches} batches`)
  const { rows: [events] } = await app.pg.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1', [competitionId])
  t.equal(events.n, used.size, 'one event per key used up')
})
