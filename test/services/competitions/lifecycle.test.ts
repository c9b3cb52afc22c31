import { test } from 'tap'
import { build } from '../../helper.ts'
import { createCompetition, credit, ledgerTotals, signIn, type Person, TEST_CONFIG } from '../../routes/competitions/fixtures.ts'
import type { StatusChange } from '../../../services/competitions/lifecycle.ts'

const HOUR = 3600_000

function recordStatusEvents (app: Awaited<ReturnType<typeof build>>): StatusChange[] {
  const seen: StatusChange[] = []
  app.events.on('competition.status', (e) => { seen.push(e as StatusChange) })
  return seen
}

async function join (app: Awaited<ReturnType<typeof build>>, competitionId: string, who: Person): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/join`, headers: who.headers })
  if (res.statusCode !== 200) throw new Error(`join failed: ${res.statusCode} ${res.body}`)
}

async function statusOf (app: Awaited<ReturnType<typeof build>>, id: string): Promise<string> {
  const { rows } = await app.pg.query('SELECT status FROM competitions WHERE id = $1', [id])
  return rows[0].status
}

test('a competition passes through every status by time alone', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const events = recordStatusEvents(app)
  const admin = await signIn(app, { admin: true })
  const people = [await signIn(app), await signIn(app), await signIn(app)]
  const created = Date.now()
  const competition = await createCompetition(app, admin, {
    startsAt: new Date(created + HOUR).toISOString(),
    endsAt: new Date(created + 25 * HOUR).toISOString(),
    gracePeriodSeconds: 3600
  })
  for (const p of people) await join(app, competition.id, p)
  const startsAt = new Date(competition.startsAt)
  const endsAt = new Date(competition.endsAt)

  t.same(await app.lifecycle.sweep(new Date(startsAt.getTime() - 1)), [], 'nothing is due before the start')
  t.equal(await statusOf(app, competition.id), 'scheduled')

  const steps: Array<[Date, string]> = [
    [startsAt, 'active'],
    [endsAt, 'grace'],
    [new Date(endsAt.getTime() + HOUR), 'final']
  ]
  let from = 'scheduled'
  for (const [at, to] of steps) {
    const changes = await app.lifecycle.sweep(at)
    t.same(changes, [{ competitionId: competition.id, from, to, at }], `${from} -> ${to} at ${at.toISOString()}`)
    t.equal(await statusOf(app, competition.id), to)
    const { rows } = await app.pg.query(`SELECT user_id FROM activity
      WHERE competition_id = $1 AND kind = 'competition_status' AND data->>'to' = $2 AND data->>'from' = $3`, [competition.id, to, from])
    t.same(rows.map((r) => r.user_id).sort(), people.map((p) => p.id).sort(), `every participant's feed records ${to}`)
    t.same(await app.lifecycle.sweep(at), [], 'sweeping again at the same time does nothing')
    if (to === 'grace') {
      t.same(await app.lifecycle.sweep(new Date(endsAt.getTime() + HOUR - 1)), [], 'grace lasts its full period')
    }
    from = to
  }
  t.same(events.map((e) => `${e.from}->${e.to}`), ['scheduled->active', 'active->grace', 'grace->final'], 'each transition is published once')

  const feed = await app.inject({ url: `/api/v1/users/${people[0]!.id}/activity`, headers: people[0]!.headers })
  t.same(feed.json().items.slice(0, 3).map((i: { data: { to: string } }) => i.data.to), ['final', 'grace', 'active'], 'the feed API shows the transitions, newest first')
})

test('final ranks use competition ranking; an overdue competition catches up in one sweep', async (t) => {
  // No job workers: the joins' fitness rescoring (a job) would reset the scores set below by hand.
  const app = await build(t, { config: { ...TEST_CONFIG, JOB_WORKERS: false } })
  const events = recordStatusEvents(app)
  const admin = await signIn(app, { admin: true })
  const people = [await signIn(app), await signIn(app), await signIn(app), await signIn(app)]
  const competition = await createCompetition(app, admin)
  for (const p of people) await join(app, competition.id, p)
  const scores = [500, 900, 500, 100]
  for (const [i, p] of people.entries()) {
    await app.pg.query('UPDATE participants SET score = $3 WHERE competition_id = $1 AND user_id = $2', [competition.id, p.id, scores[i]])
  }
  const later = new Date(new Date(competition.endsAt).getTime() + 48 * HOUR)
  const changes = await app.lifecycle.sweep(later)
  t.same(changes.map((c) => c.to), ['active', 'grace', 'final'])
  t.same(events.map((e) => e.to), ['active', 'grace', 'final'])
  const { rows } = await app.pg.query('SELECT user_id, final_rank FROM participants WHERE competition_id = $1', [competition.id])
  const rankOf = Object.fromEntries(rows.map((r) => [r.user_id, r.final_rank]))
  t.same(people.map((p) => rankOf[p.id]), [2, 1, 2, 4], 'ties share a place (1, 2, 2, 4)')

  const mine = await app.inject({ url: `/api/v1/users/${people[3]!.id}/competitions?scope=past`, headers: people[3]!.headers })
  t.match(mine.json().items, [{ competition: { id: competition.id, status: 'final' }, finalRank: 4, rank: 4, score: 100 }])
})

test('several instances sweeping at once apply each transition exactly once', async (t) => {
  const a = await build(t, { config: TEST_CONFIG })
  const b = await build(t, { databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX, config: TEST_CONFIG })
  const seenA = recordStatusEvents(a)
  const seenB = recordStatusEvents(b)
  const admin = await signIn(a, { admin: true })
  const ids: string[] = []
  for (let i = 0; i < 60; i++) ids.push((await createCompetition(a, admin, { name: `c${i}` })).id)
  const at = new Date(Date.now() + 2 * HOUR)
  const results = await Promise.all([a.lifecycle.sweep(at), b.lifecycle.sweep(at), a.lifecycle.sweep(at), b.lifecycle.sweep(at)])
  const moved = results.flat()
  t.equal(moved.length, 60, 'sixty transitions in total')
  t.same(new Set(moved.map((c) => c.competitionId)).size, 60, 'no competition moved twice')
  t.equal(seenA.length + seenB.length, 60, 'sixty events across the instances')
  const { rows } = await a.pg.query('SELECT status, count(*)::int AS n FROM competitions WHERE id = ANY($1) GROUP BY status', [ids])
  t.same(rows, [{ status: 'active', n: 60 }])
})

test('cancelling refunds every entry fee once, whoever repeats it', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const events = recordStatusEvents(app)
  const admin = await signIn(app, { admin: true })
  const people = [await signIn(app), await signIn(app), await signIn(app)]
  for (const p of people) await credit(app, admin, p.id, 1000)
  const competition = await createCompetition(app, admin, { entryFee: 300 })
  for (const p of people) await join(app, competition.id, p)
  await app.lifecycle.sweep(new Date(new Date(competition.startsAt).getTime() + 1))

  const cancel = async () => await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/cancel`, headers: admin.headers })
  const first = await cancel()
  t.equal(first.statusCode, 200)
  t.match(first.json(), { status: 'cancelled', joinable: false })
  const again = await Promise.all([cancel(), cancel()])
  t.same(again.map((r) => r.statusCode), [200, 200], 'cancelling again is a no-op')
  await app.lifecycle.cancel(competition.id, admin.id)

  for (const p of people) {
    const { wallets } = (await app.inject({ url: `/api/v1/users/${p.id}/dashboard`, headers: p.headers })).json()
    t.same(wallets, [{ currency: 'USD', balance: 1000, withdrawable: 0 }], 'fee returned exactly once, to the pocket it came from')
  }
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = \'refund\' AND competition_id = $1', [competition.id])
  t.equal(rows[0].n, 3, 'one refund per participant')
  const { rows: escrow } = await app.pg.query('SELECT balance::int FROM accounts WHERE kind = \'escrow\' AND competition_id = $1', [competition.id])
  t.same(escrow, [{ balance: 0 }], 'escrow is empty')
  const { rows: feed } = await app.pg.query(`SELECT kind, count(*)::int AS n FROM activity WHERE competition_id = $1 AND kind IN ('refund', 'competition_status')
    AND (kind = 'refund' OR data->>'to' = 'cancelled') GROUP BY kind ORDER BY kind`, [competition.id])
  t.same(feed, [{ kind: 'competition_status', n: 3 }, { kind: 'refund', n: 3 }])
  t.same(events.map((e) => `${e.from}->${e.to}`), ['scheduled->active', 'active->cancelled'])
  t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 })

  const leave = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/leave`, headers: people[0]!.headers })
  t.equal(leave.statusCode, 409, 'leaving a cancelled competition refunds nothing more')
  t.match(leave.json().message, /cancelled/)
  const late = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: (await signIn(app)).headers })
  t.equal(late.statusCode, 409, 'a cancelled competition cannot be joined')
  t.same(await app.lifecycle.sweep(new Date(Date.now() + 1000 * HOUR)), [], 'the sweeper leaves cancelled competitions alone')
})

test('admin actions: end early and the states that refuse them', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const events = recordStatusEvents(app)
  const admin = await signIn(app, { admin: true })
  const competition = await createCompetition(app, admin, { gracePeriodSeconds: 600 })
  const endEarly = async () => await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/end-early`, headers: admin.headers })

  const notStarted = await endEarly()
  t.equal(notStarted.statusCode, 409)
  t.match(notStarted.json().message, /cancel/)

  await app.lifecycle.sweep(new Date(new Date(competition.startsAt).getTime() + 1))
  const toGrace = await endEarly()
  t.equal(toGrace.statusCode, 200)
  t.equal(toGrace.json().status, 'grace')
  t.ok(new Date(toGrace.json().endsAt) < new Date(competition.endsAt), 'the end moved forward')
  const toFinal = await endEarly()
  t.equal(toFinal.json().status, 'final')
  t.equal((await endEarly()).statusCode, 409, 'a final competition cannot end again')
  const cancel = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/cancel`, headers: admin.headers })
  t.equal(cancel.statusCode, 409, 'nor be cancelled')
  t.same(events.map((e) => e.to), ['active', 'grace', 'final'])
  const missing = await app.inject({ method: 'POST', url: '/api/v1/competitions/00000000-0000-4000-8000-000000000000/end-early', headers: admin.headers })
  t.equal(missing.statusCode, 404)
})

test('a competition starts by its lifecycle job within a second of its instant', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, LIFECYCLE_JOBS: true } })
  const admin = await signIn(app, { admin: true })
  const startsAt = new Date(Date.now() + 1500)
  const competition = await createCompetition(app, admin, { startsAt: startsAt.toISOString() })
  const changed = await new Promise<StatusChange>((resolve) => app.events.once('competition.status', (e) => resolve(e as StatusChange)))
  t.match(changed, { competitionId: competition.id, from: 'scheduled', to: 'active' })
  const { rows } = await app.pg.query('SELECT extract(epoch FROM status_changed_at - starts_at) * 1000 AS late_ms FROM competitions WHERE id = $1', [competition.id])
  const lateMs = Number(rows[0].late_ms)
  t.ok(lateMs >= 0 && lateMs < 1000, `started ${Math.round(lateMs)} ms after its instant`)
})

test('a failing listener neither undoes nor fails a committed change', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const reported: Error[] = []
  app.events.on('error', (err) => { reported.push(err) })
  app.events.on('competition.status', () => { throw new Error('listener broke') })
  app.events.on('participant.joined', () => { throw new Error('listener broke too') })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const competition = await createCompetition(app, admin)
  const joined = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: user.headers })
  t.equal(joined.statusCode, 200, 'the join still answers 200')
  const changes = await app.lifecycle.sweep(new Date(new Date(competition.startsAt).getTime() + 1))
  t.equal(changes.length, 1, 'the sweep still reports its transition')
  t.equal(await statusOf(app, competition.id), 'active')
  t.same(reported.map((e) => e.message), ['listener broke too', 'listener broke'], 'the failures are reported on the bus')
})
