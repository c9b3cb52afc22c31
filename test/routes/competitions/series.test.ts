import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { until } from '../webhooks/receiver.ts'
import { SERIES_QUEUE } from '../../../services/competitions/series-runs.ts'
import { WEEKDAYS } from '../../../schemas/series.ts'
import { credit, ledgerTotals, signIn, TEST_CONFIG, type Person } from './fixtures.ts'

const HOUR = 3600_000
const DAY = 24 * HOUR
const WEEK = 7 * DAY
// Tokyo keeps +09:00 all year, so the expected starts are plain arithmetic here (the DST cases
// are in test/services/competitions/series-schedule.test.ts).
const TOKYO = 9 * HOUR

// The weekday three days from now in Tokyo: its first occurrence is two to three days away,
// never within the lead time, so it waits for the test whatever day the test runs.
const WEEKDAY = WEEKDAYS[new Date(Date.now() + TOKYO + 3 * DAY).getUTCDay()]!

// The first WEEKDAY 06:00 in Tokyo after `after`.
function nextTokyoWeekday (after: number): number {
  const local = new Date(after + TOKYO)
  let day = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate())
  for (;;) {
    const at = day + 6 * HOUR - TOKYO
    if (WEEKDAYS[new Date(day).getUTCDay()] === WEEKDAY && at > after) return at
    day += DAY
  }
}

const SERIES = {
  name: 'Weekly steps',
  metric: 'steps',
  entryFee: 300,
  currency: 'USD',
  maxParticipants: 2,
  prizeSplit: { type: 'percent', places: [100] },
  schedule: { every: 'week', weekday: WEEKDAY, at: '06:00' },
  timeZone: 'Asia/Tokyo',
  durationSeconds: 6 * 24 * 3600,
  createAheadSeconds: 3600
}

async function walletBalance (app: FastifyInstance, userId: string): Promise<number> {
  const { rows } = await app.pg.query('SELECT coalesce(sum(balance), 0)::int AS n FROM accounts WHERE kind = \'wallet\' AND user_id = $1', [userId])
  return rows[0].n
}

async function ledgerEntriesOf (app: FastifyInstance, userId: string): Promise<number> {
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM ledger_entries e JOIN accounts a ON a.id = e.account_id WHERE a.user_id = $1', [userId])
  return rows[0].n
}

// The occurrence's job waits until its lead time before the start: the test checks that
// instant, then brings the job forward to now (time is driven, not waited for) and waits for
// the competition and every subscriber's outcome.
async function runOccurrence (t: Test, app: FastifyInstance, seriesId: string, occursAt: number, subscribers: number): Promise<string> {
  const { rows: [job] } = await app.pg.query('SELECT id, start_after FROM pgboss.job WHERE name = $1 AND singleton_key = $2',
    [SERIES_QUEUE, `${seriesId}:${occursAt}`])
  t.ok(job, `the job of ${new Date(occursAt).toISOString()} waits`)
  t.equal(job.start_after.getTime(), occursAt - SERIES.createAheadSeconds * 1000, 'due its lead time before the start')
  await app.pg.query('UPDATE pgboss.job SET start_after = now() WHERE name = $1 AND id = $2 AND state = \'created\'', [SERIES_QUEUE, job.id])
  let competitionId = ''
  await until('the competition created and its subscribers joined or refused', async () => {
    const { rows } = await app.pg.query(`SELECT i.competition_id, (SELECT count(*)::int FROM series_auto_joins a WHERE a.competition_id = i.competition_id) AS outcomes
      FROM competition_series_instances i WHERE i.series_id = $1 AND i.occurs_at = $2`, [seriesId, new Date(occursAt)])
    competitionId = rows[0]?.competition_id ?? ''
    return rows[0]?.outcomes === subscribers
  })
  return competitionId
}

async function outcomes (app: FastifyInstance, who: Person, seriesId: string): Promise<Array<Record<string, any>>> {
  const res = await app.inject({ url: `/api/v1/competition-series/${seriesId}/subscription`, headers: who.headers })
  return res.json().outcomes
}

async function participants (app: FastifyInstance, competitionId: string): Promise<string[]> {
  const { rows } = await app.pg.query('SELECT user_id FROM participants WHERE competition_id = $1 ORDER BY joined_at', [competitionId])
  return rows.map((r) => r.user_id)
}

test('three competitions of a weekly series, created on time, with auto-joins and refused ones', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const [carol, alice, bob, dave] = [await signIn(app), await signIn(app), await signIn(app), await signIn(app)]
  for (const p of [alice, bob, dave]) await credit(app, admin, p.id, 1000)

  const created = await app.inject({ method: 'POST', url: '/api/v1/competition-series', headers: admin.headers, payload: SERIES })
  t.equal(created.statusCode, 201)
  const series = created.json()
  t.equal(created.headers.location, `/api/v1/competition-series/${series.id}`)
  const first = nextTokyoWeekday(Date.parse(series.createdAt))
  t.match(series, { status: 'active', timeZone: 'Asia/Tokyo', schedule: SERIES.schedule, createAheadSeconds: 3600, subscribed: false, createdBy: admin.id })
  t.equal(series.nextOccurrenceAt, new Date(first).toISOString(), 'the next such weekday, 06:00 in Tokyo')
  t.match(series.template, { name: 'Weekly steps', entryFee: 300, maxParticipants: 2 })

  // Carol has no money; Dave subscribes last, when the two places are taken.
  for (const p of [carol, alice, bob, dave]) {
    const res = await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${series.id}/subscription`, headers: p.headers })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { seriesId: series.id, userId: p.id, subscribed: true, outcomes: [] })
  }
  const again = await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${series.id}/subscription`, headers: alice.headers })
  t.equal(again.json().subscribedAt, (await outcomesSubscription(app, alice, series.id)).subscribedAt, 'subscribing again changes nothing')

  // 1: Alice and Bob join and pay; Carol cannot pay; Dave finds it full.
  const one = await runOccurrence(t, app, series.id, first, 4)
  const competition = (await app.inject({ url: `/api/v1/competitions/${one}`, headers: alice.headers })).json()
  t.match(competition, {
    name: `Weekly steps (${new Date(first + TOKYO).toISOString().slice(0, 10)})`,
    startsAt: new Date(first).toISOString(),
    endsAt: new Date(first + SERIES.durationSeconds * 1000).toISOString(),
    timeZone: 'Asia/Tokyo',
    entryFee: 300,
    participantCount: 2,
    status: 'scheduled',
    createdBy: admin.id
  })
  t.same(await participants(app, one), [alice.id, bob.id])
  t.match(await outcomes(app, alice, series.id), [{ competitionId: one, occursAt: new Date(first).toISOString(), status: 'joined', reason: null }])
  const [refused] = await outcomes(app, carol, series.id)
  t.match(refused, { competitionId: one, status: 'failed', reason: 'insufficient_funds', message: /Insufficient funds/ }, 'Carol sees why')
  t.match(await outcomes(app, dave, series.id), [{ competitionId: one, status: 'failed', reason: 'full' }])
  t.equal(await ledgerEntriesOf(app, carol.id), 0, 'no money moved for Carol')
  t.equal(await walletBalance(app, dave.id), 1000, 'nor for Dave')
  t.equal(await walletBalance(app, alice.id), 700, 'Alice paid the fee')
  const { rows: [escrow] } = await app.pg.query('SELECT balance::int FROM accounts WHERE kind = \'escrow\' AND competition_id = $1', [one])
  t.equal(escrow.balance, 600, 'two fees in escrow')

  // The same occurrence's job again (a retry) creates nothing twice and joins nobody twice.
  const retryId = await app.jobs.boss.send(SERIES_QUEUE, { seriesId: series.id, occursAt: new Date(first).toISOString() })
  await until('the repeated job done', async () => {
    const { rows } = await app.pg.query('SELECT state FROM pgboss.job WHERE name = $1 AND id = $2', [SERIES_QUEUE, retryId])
    return rows[0]?.state === 'completed'
  })
  const { rows: [counts] } = await app.pg.query(`SELECT (SELECT count(*)::int FROM competition_series_instances WHERE series_id = $1) AS instances,
    (SELECT count(*)::int FROM series_auto_joins WHERE series_id = $1) AS outcomes`, [series.id])
  t.same(counts, { instances: 1, outcomes: 4 })
  t.equal(await walletBalance(app, alice.id), 700)
  // As if the run had stopped after Alice's join and before her outcome was written: the join
  // answers the same again under its idempotency key, and she pays once.
  await app.pg.query('DELETE FROM series_auto_joins WHERE competition_id = $1 AND user_id = $2', [one, alice.id])
  const resumed = await app.jobs.boss.send(SERIES_QUEUE, { seriesId: series.id, occursAt: new Date(first).toISOString() })
  await until('the resumed job done', async () => (await app.pg.query('SELECT state FROM pgboss.job WHERE id = $1', [resumed])).rows[0]?.state === 'completed')
  t.match(await outcomes(app, alice, series.id), [{ competitionId: one, status: 'joined' }], 'her outcome is written')
  t.equal(await walletBalance(app, alice.id), 700, 'and she paid once')

  // 2: Bob opts out; Carol has money now.
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/competition-series/${series.id}/subscription`, headers: bob.headers })).json().subscribed, false)
  await credit(app, admin, carol.id, 300)
  const two = await runOccurrence(t, app, series.id, first + WEEK, 3)
  t.same(await participants(app, two), [carol.id, alice.id])
  t.match(await outcomes(app, carol, series.id), [{ competitionId: two, status: 'joined' }, { competitionId: one, status: 'failed' }])
  t.match(await outcomes(app, dave, series.id), [{ competitionId: two, reason: 'full' }, { competitionId: one, reason: 'full' }])
  t.match(await outcomes(app, bob, series.id), [{ competitionId: one, status: 'joined' }], 'Bob was not joined after opting out')
  t.equal((await outcomes(app, bob, series.id)).length, 1)

  // 3: Carol's wallet is empty again; Dave gets the place she leaves.
  const three = await runOccurrence(t, app, series.id, first + 2 * WEEK, 3)
  t.same(await participants(app, three), [alice.id, dave.id])
  t.match((await outcomes(app, carol, series.id))[0], { competitionId: three, status: 'failed', reason: 'insufficient_funds' })
  t.equal(await walletBalance(app, carol.id), 0)
  t.equal(await walletBalance(app, alice.id), 100, 'Alice paid three fees')
  t.equal(await walletBalance(app, dave.id), 700)

  const { rows: stray } = await app.pg.query('SELECT competition_id FROM participants WHERE user_id = $1 AND competition_id = $2', [carol.id, three])
  t.same(stray, [], 'no participant row for a refused join')
  const totals = await ledgerTotals(app)
  t.same(totals, { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 }, 'the books balance')
  // Each refusal is in the user's inbox, once, saying why.
  const inbox = async (who: Person) => (await app.inject({ url: `/api/v1/users/${who.id}/notifications`, headers: who.headers })).json().items
    .filter((n: any) => n.template === 'auto_join_failed').map((n: any) => [n.competitionId, n.body])
  t.match(await inbox(carol), [[three, /could not pay the \$3\.00 entry fee/], [one, /could not pay/]])
  t.match(await inbox(dave), [[two, /full/], [one, /full/]])
  t.same(await inbox(alice), [])
  const latest = (await app.inject({ url: `/api/v1/competition-series/${series.id}`, headers: carol.headers })).json()
  t.equal(latest.nextOccurrenceAt, new Date(first + 3 * WEEK).toISOString(), 'the fourth waits')
  t.equal(latest.subscribed, true)
})

async function outcomesSubscription (app: FastifyInstance, who: Person, seriesId: string): Promise<Record<string, any>> {
  return (await app.inject({ url: `/api/v1/competition-series/${seriesId}/subscription`, headers: who.headers })).json()
}

test('creating, seeing, listing, pausing, resuming and stopping a series', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const post = async (payload: Record<string, unknown>, who = admin) => await app.inject({ method: 'POST', url: '/api/v1/competition-series', headers: who.headers, payload })

  const invalid: Record<string, [Record<string, unknown>, RegExp]> = {
    'a time out of range': [{ ...SERIES, schedule: { every: 'day', at: '24:00' } }, /at/],
    'an unknown weekday': [{ ...SERIES, schedule: { every: 'week', weekday: 'funday', at: '06:00' } }, /weekday/],
    'a field of another variant': [{ ...SERIES, schedule: { every: 'day', at: '06:00', weekday: 'monday' } }, /weekday/],
    'no time zone': [{ ...SERIES, timeZone: undefined }, /timeZone/],
    'an unknown time zone': [{ ...SERIES, timeZone: 'Mars/Olympus' }, /timeZone/],
    'a start time in the body': [{ ...SERIES, startsAt: '2030-01-07T00:00:00Z' }, /startsAt/],
    'a split not summing to 100': [{ ...SERIES, prizeSplit: { type: 'percent', places: [50, 30] } }, /sum to 100/]
  }
  for (const [name, [payload, message]] of Object.entries(invalid)) {
    const res = await post(payload)
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json(), { message }, `${name}: says why`)
  }
  const { rows: [none] } = await app.pg.query('SELECT (SELECT count(*)::int FROM competitions) AS competitions, (SELECT count(*)::int FROM competition_series) AS series')
  t.same(none, { competitions: 0, series: 0 }, 'a refused template leaves nothing behind')
  t.equal((await post(SERIES, user)).statusCode, 403, 'admins create series unless COMPETITION_CREATORS=users')

  // Its daily time is three hours from now in its time zone, so its next occurrence is never
  // within the hour's creation lead while the test runs (a fixed time made the counts below
  // depend on the time of day).
  const inThreeHours = new Date(Date.now() + 3 * HOUR).toLocaleTimeString('en-GB', { timeZone: SERIES.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  const open = (await post({ ...SERIES, name: 'Daily walk', schedule: { every: 'day', at: inThreeHours }, durationSeconds: 86400 })).json()
  const hidden = (await post({ ...SERIES, name: 'Club', visibility: 'private', schedule: { every: 'month', day: 31, at: '06:00' } })).json()
  t.equal((await app.inject({ url: `/api/v1/competition-series/${hidden.id}`, headers: user.headers })).statusCode, 404, 'a private series is hidden')
  t.equal((await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${hidden.id}/subscription`, headers: user.headers })).statusCode, 404)
  const listed = await app.inject({ url: '/api/v1/competition-series?limit=1', headers: user.headers })
  t.same(listed.json().items.map((s: any) => s.id), [open.id])
  t.equal(listed.json().nextCursor, null)
  const all = (await app.inject({ url: '/api/v1/competition-series', headers: admin.headers })).json()
  t.same(all.items.map((s: any) => s.id), [hidden.id, open.id], 'admins see all, newest first')
  const page = (await app.inject({ url: '/api/v1/competition-series?limit=1', headers: admin.headers })).json()
  const next = (await app.inject({ url: `/api/v1/competition-series?limit=1&cursor=${page.nextCursor}`, headers: admin.headers })).json()
  t.same(next.items.map((s: any) => s.id), [open.id], 'and page')
  await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${open.id}/subscription`, headers: user.headers })
  const mine = (await app.inject({ url: '/api/v1/competition-series?subscribed=true', headers: user.headers })).json()
  t.same(mine.items.map((s: any) => [s.id, s.subscribed]), [[open.id, true]])

  // Its creator alone subscribes to a private series (others join its competitions by invite).
  const otherAdmin = await signIn(app, { admin: true })
  t.equal((await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${hidden.id}/subscription`, headers: otherAdmin.headers })).statusCode, 403)
  t.equal((await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${hidden.id}/subscription`, headers: admin.headers })).statusCode, 200)

  // An occurrence whose start passed before its job ran (no replica ran jobs) is skipped, and
  // the next one is counted from now.
  const missed = new Date(Date.now() - HOUR)
  await app.pg.query('UPDATE competition_series SET next_occurrence_at = $2 WHERE id = $1', [open.id, missed])
  const late = await app.jobs.boss.send(SERIES_QUEUE, { seriesId: open.id, occursAt: missed.toISOString() })
  await until('the late job done', async () => (await app.pg.query('SELECT state FROM pgboss.job WHERE id = $1', [late])).rows[0]?.state === 'completed')
  const afterMiss = (await app.inject({ url: `/api/v1/competition-series/${open.id}`, headers: user.headers })).json()
  t.ok(Date.parse(afterMiss.nextOccurrenceAt) > Date.now(), 'the next occurrence is in the future')
  const { rows: [skipped] } = await app.pg.query('SELECT count(*)::int AS n FROM competition_series_instances WHERE series_id = $1', [open.id])
  t.equal(skipped.n, 0, 'no competition starting in the past')

  const act = async (action: string, who = admin) => await app.inject({ method: 'POST', url: `/api/v1/competition-series/${open.id}/${action}`, headers: who.headers })
  t.equal((await act('pause', user)).statusCode, 403, 'only its creator and admins')
  const paused = await act('pause')
  t.match(paused.json(), { status: 'paused', nextOccurrenceAt: null })
  const { rows: [waiting] } = await app.pg.query('SELECT id FROM pgboss.job WHERE name = $1 AND data->>\'seriesId\' = $2', [SERIES_QUEUE, open.id])
  // The paused series' job comes due and does nothing.
  await app.pg.query('UPDATE pgboss.job SET start_after = now() WHERE id = $1', [waiting.id])
  await until('the stale job done', async () => (await app.pg.query('SELECT state FROM pgboss.job WHERE id = $1', [waiting.id])).rows[0]?.state === 'completed')
  const { rows: [made] } = await app.pg.query('SELECT count(*)::int AS n FROM competition_series_instances WHERE series_id = $1', [open.id])
  t.equal(made.n, 0, 'a paused series creates nothing')
  const resumed = (await act('resume')).json()
  t.equal(resumed.status, 'active')
  t.ok(Date.parse(resumed.nextOccurrenceAt) > Date.now(), 'resumed from the next occurrence after now')
  t.equal((await act('stop')).json().status, 'stopped')
  t.equal((await act('stop')).statusCode, 200, 'stopping again changes nothing')
  t.equal((await act('resume')).statusCode, 409, 'a stopped series stays stopped')
  t.equal((await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${open.id}/subscription`, headers: admin.headers })).statusCode, 409)

  // A series ends with its creator's account.
  const creator = await signIn(app, { admin: true })
  const theirs = (await post({ ...SERIES, name: 'Theirs' }, creator)).json()
  await app.pg.query('UPDATE users SET deleted_at = now(), deleted_by = \'admin\' WHERE id = $1', [creator.id])
  await app.pg.query('UPDATE pgboss.job SET start_after = now() WHERE name = $1 AND data->>\'seriesId\' = $2', [SERIES_QUEUE, theirs.id])
  await until('the series stopped', async () => (await app.pg.query('SELECT status FROM competition_series WHERE id = $1', [theirs.id])).rows[0]?.status === 'stopped')
  const { rows: [none2] } = await app.pg.query('SELECT count(*)::int AS n FROM competition_series_instances WHERE series_id = $1', [theirs.id])
  t.equal(none2.n, 0, 'and creates nothing more')
})
