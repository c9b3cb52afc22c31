import { test } from 'tap'
import { Value } from 'typebox/value'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, credit, signIn, TEST_CONFIG } from '../../routes/competitions/fixtures.ts'
import { updateScore } from '../../routes/leaderboard/fixtures.ts'
import { DomainEventSchemas, type DomainEventType } from '../../../schemas/domain-events.ts'
import { pruneRelayedEvents } from '../../../services/shared/outbox.ts'

// Every domain change writes its event in the same transaction: the events of a competition's
// life are all in the outbox, each payload matches its published schema, and a change that
// rolled back left no event.

async function eventsOf (app: FastifyInstance): Promise<Array<{ type: DomainEventType, payload: Record<string, any> }>> {
  const { rows } = await app.pg.query('SELECT type, payload FROM domain_events ORDER BY seq')
  return rows
}

test('a competition\'s life writes its events, each valid against its schema', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, RATE_LIMIT_MAX: 100_000 } })
  const admin = await signIn(app, { admin: true })
  const [ada, bo] = [await signIn(app), await signIn(app)]
  await credit(app, admin, ada.id, 1000)
  await credit(app, admin, bo.id, 1000)
  const competition = await createCompetition(app, admin, { metric: 'custom', entryFee: 500, startsAt: new Date(Date.now() + 1000).toISOString() })
  for (const who of [ada, bo]) {
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: who.headers, payload: {} })).statusCode, 200)
  }
  await app.lifecycle.sweep(new Date(Date.now() + 2000))
  t.equal((await updateScore(app, { competitionId: competition.id, userId: ada.id, value: 7 })).statusCode, 200)
  for (let i = 0; i < 2; i++) {
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/end-early`, headers: admin.headers })).statusCode, 200)
  }
  const distributed = await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competition.id}`, headers: admin.headers })
  t.equal(distributed.statusCode, 200, distributed.body)

  const events = await eventsOf(app)
  for (const e of events) t.ok(Value.Check(DomainEventSchemas[e.type], e.payload), `${e.type}: matches its schema`)
  const ofCompetition = events.filter((e) => e.payload.competitionId === competition.id).map((e) => e.type)
  t.same(ofCompetition, [
    'competition.created',
    'ledger.posted', 'participant.joined',
    'ledger.posted', 'participant.joined',
    'competition.started',
    'score.changed',
    'competition.ended',
    'competition.final',
    'ledger.posted', 'prize.paid'
  ], 'in the order they happened')
  const score = events.find((e) => e.type === 'score.changed')!
  t.same(score.payload.changes, [{ userId: ada.id, score: 7, previousScore: 0 }], 'the new score and the one before, coalesced per batch')
  const fee = events.find((e) => e.type === 'ledger.posted' && e.payload.kind === 'entry_fee')!
  t.same(fee.payload.wallets, [{ userId: ada.id, amount: -500, currency: 'USD' }], 'the wallet the entry fee left')
})

test('a change that rolls back leaves no event', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const poor = await signIn(app)
  const competition = await createCompetition(app, admin, { entryFee: 500 })
  const before = (await eventsOf(app)).length
  const join = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: poor.headers, payload: {} })
  t.equal(join.statusCode, 409, 'refused: no money for the fee')
  t.equal((await eventsOf(app)).length, before, 'no participant.joined and no ledger event without the join')
})

test('relayed events past their retention are pruned; events still waiting are kept', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, JOB_WORKERS: false } })
  await app.jobs.relay.close()
  const insert = async (relayedDaysAgo: number | null, occurredDaysAgo: number) => {
    const { rows } = await app.pg.query(`INSERT INTO domain_events (type, payload, occurred_at, relayed_at)
      VALUES ('participant.left', '{}', now() - $1 * interval '1 day', now() - $2 * interval '1 day') RETURNING id`, [occurredDaysAgo, relayedDaysAgo])
    return rows[0].id as string
  }
  const old = await insert(40, 40)
  const waiting = await insert(null, 40)
  const recent = await insert(1, 1)
  t.equal(await pruneRelayedEvents(app.pg.pool, 30, 1), 1, 'one event past its retention')
  const { rows } = await app.pg.query('SELECT id FROM domain_events WHERE id = ANY($1::uuid[]) ORDER BY seq', [[old, waiting, recent]])
  t.same(rows.map((r) => r.id), [waiting, recent])
})
