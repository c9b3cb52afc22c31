import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../helper.ts'
import { LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers } from '../routes/leaderboard-fixtures.ts'
import { createLeaderboardStore } from '../../services/leaderboard-store.ts'

// applyChanges sends its statements as array literals in two round trips, so these cover what
// bound parameters did before: text kept exactly, and a key taken by a concurrent transaction.

test('idempotency keys with quotes, backslashes and SQL in them are stored exactly', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const [userId] = await seedUsers(app, 1)
  await seedParticipants(app, competitionId, [userId!], { emit: false })
  const store = createLeaderboardStore()
  const keys = ["it's", 'back\\slash', "'); DROP TABLE score_events; --", 'ünïcödé ✓', '\\\'"']
  const client = await app.pg.connect()
  t.teardown(() => client.release())
  const { results } = await store.applyChanges(client, keys.map((idempotencyKey, i) => ({ competitionId, userId: userId!, operation: 'increment' as const, value: i + 1, idempotencyKey })))
  t.same(results.map((r) => r.applied), [true, true, true, true, true])
  const { rows } = await app.pg.query('SELECT idempotency_key FROM score_events WHERE competition_id = $1 ORDER BY id', [competitionId])
  t.same(rows.map((r) => r.idempotency_key), keys)
  const again = await store.applyChanges(client, [{ competitionId, userId: userId!, operation: 'increment', value: 3, idempotencyKey: keys[2]! }])
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
  const batch = await app.pg.connect()
  t.teardown(() => { holder.release(); batch.release() })
  await holder.query('BEGIN')
  await holder.query(`INSERT INTO score_events (competition_id, user_id, idempotency_key, operation, value, score_before, score_after)
    VALUES ($1, $2, $3, 'set', 7, 0, 7)`, [competitionId, userId, key])
  const applying = store.applyChanges(batch, [
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
  await batch.query('ROLLBACK')
  const { rows } = await app.pg.query('SELECT user_id, score::int FROM participants WHERE competition_id = $1 ORDER BY user_id', [competitionId])
  t.same(rows.map((r) => r.score), [0, 0], 'neither change of the failed batch was written')
  const { rows: [events] } = await app.pg.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1', [competitionId])
  t.equal(events.n, 1, 'only the other transaction\'s event')
})

test('a batch with no well-formed change is answered without asking Postgres', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const store = createLeaderboardStore()
  let queries = 0
  const counting = { query: async (...args: Parameters<typeof app.pg.query>) => { queries++; return await app.pg.query(...args) } }
  const { results, projected } = await store.applyChanges(counting as never, [
    { competitionId: 'not-a-uuid', userId: randomUUID(), operation: 'set', value: 1, idempotencyKey: 'a' },
    { competitionId: randomUUID(), userId: randomUUID(), operation: 'set', value: -1, idempotencyKey: 'b' }
  ])
  t.same(results.map((r) => r.reason), ['unknown_competition', 'invalid'])
  t.same(projected, [])
  t.equal(queries, 0)
})
