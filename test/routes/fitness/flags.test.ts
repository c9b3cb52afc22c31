import { test } from 'tap'
import { build } from '../../helper.ts'
import {
  FITNESS_TEST_CONFIG, HOUR, insertCompetition, join, liveFrames, participant, person, sample, syncOk
} from './fixtures.ts'

const DAY = 24 * HOUR
const dayStart = (daysAgo: number): number => Math.floor(Date.now() / DAY) * DAY - daysAgo * DAY

test('implausible data is flagged, holds the participant out of prizes, and admins decide', async (t) => {
  const app = await build(t, { config: { ...FITNESS_TEST_CONFIG, FITNESS_DAILY_STEPS_CEILING: 20000 } })
  const admin = person({ admin: true })
  const alice = person()
  const bob = person()
  const window = { startsAt: dayStart(4), endsAt: dayStart(-2) }
  const steps = await insertCompetition(app, window)
  const distance = await insertCompetition(app, { ...window, metric: 'distance_m' })
  for (const who of [alice, bob]) {
    await join(app, who, steps)
    await join(app, who, distance)
  }
  await syncOk(app, bob, { source: 'healthkit', samples: [sample({ start: dayStart(2) + 8 * HOUR, minutes: 60, value: 9000 })] })

  const batch = [
    // 600 steps a minute for ten minutes.
    sample({ externalId: 'sprint', start: dayStart(3) + 8 * HOUR, minutes: 10, value: 6000 }),
    // 20 km in ten minutes: 33 m/s.
    sample({ externalId: 'drive', metric: 'distance_m', start: dayStart(3) + 9 * HOUR, minutes: 10, value: 20000 }),
    sample({ externalId: 'walk', metric: 'distance_m', start: dayStart(3) + 11 * HOUR, minutes: 60, value: 5000 }),
    // Each hour plausible, the day's 22,000 steps over the 20,000 ceiling.
    ...[0, 1, 2, 3, 4].map((i) => sample({ externalId: `hour-${i}`, start: dayStart(1) + (8 + i) * HOUR, minutes: 60, value: 4000 + i * 200 }))
  ]
  const result = await syncOk(app, alice, { source: 'healthkit', samples: batch })
  t.same(result.flagged.map((f: { externalId: string, reason: string }) => `${f.externalId}:${f.reason}`).sort(),
    ['drive:speed', 'hour-4:daily_ceiling', 'sprint:steps_rate'])

  const { rows: samples } = await app.pg.query(`SELECT external_id, flagged, flag_reason FROM fitness_samples
    WHERE user_id = $1 AND flagged ORDER BY external_id`, [alice.id])
  t.same(samples, [
    { external_id: 'drive', flagged: true, flag_reason: 'speed' },
    { external_id: 'hour-4', flagged: true, flag_reason: 'daily_ceiling' },
    { external_id: 'sprint', flagged: true, flag_reason: 'steps_rate' }
  ])
  t.same(await participant(app, steps, alice.id), { score: 28000, flagged: true }, 'flagged data still shows on the board')
  t.same(await participant(app, distance, alice.id), { score: 25000, flagged: true })
  t.equal((await participant(app, steps, bob.id)).flagged, false)

  await syncOk(app, alice, { source: 'healthkit', samples: batch })
  const { rows: [{ n }] } = await app.pg.query('SELECT count(*)::int AS n FROM fitness_flags')
  t.equal(n, 3, 'a replay raises nothing twice')
  t.match((await app.inject({ url: '/metrics' })).body, /fitness_flags_raised_total\{reason="steps_rate"\} 1/)

  // The review queue is for admins.
  t.equal((await app.inject({ url: '/api/v1/admin/flags', headers: alice.headers })).statusCode, 403)
  const page1 = await app.inject({ url: '/api/v1/admin/flags?status=open&limit=2', headers: admin.headers })
  t.equal(page1.statusCode, 200)
  t.equal(page1.json().items.length, 2)
  const page2 = await app.inject({ url: `/api/v1/admin/flags?status=open&limit=2&cursor=${page1.json().nextCursor as string}`, headers: admin.headers })
  t.equal(page2.json().nextCursor, null)
  const flags = [...page1.json().items, ...page2.json().items]
  const byReason = Object.fromEntries(flags.map((f: any) => [f.reason, f]))
  t.same(byReason.steps_rate.competitionIds, [steps])
  t.same(byReason.speed.competitionIds, [distance])
  t.equal(byReason.steps_rate.sample.externalId, 'sprint')
  t.same(byReason.steps_rate.details, { stepsPerMinute: 600, limit: 300 })

  const decide = async (id: number, action: string, note?: string) =>
    await app.inject({ method: 'POST', url: `/api/v1/admin/flags/${id}/${action}`, headers: admin.headers, payload: note === undefined ? {} : { note } })
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/admin/flags/${byReason.speed.id as number}/clear`, headers: alice.headers, payload: {} })).statusCode, 403)

  // Clearing one of two flags keeps the hold; clearing the last releases it.
  const cleared = await decide(byReason.steps_rate.id, 'clear', 'interval training, verified')
  t.equal(cleared.statusCode, 200)
  t.match(cleared.json(), { status: 'cleared', resolvedBy: admin.id, note: 'interval training, verified' })
  t.equal((await participant(app, steps, alice.id)).flagged, true, 'the day over the ceiling still holds')
  t.equal((await decide(byReason.daily_ceiling.id, 'clear')).statusCode, 200)
  t.same(await participant(app, steps, alice.id), { score: 28000, flagged: false }, 'no open flags: released, score unchanged')
  t.equal((await decide(byReason.daily_ceiling.id, 'clear')).json().status, 'cleared', 'clearing again changes nothing')
  t.equal((await decide(byReason.daily_ceiling.id, 'confirm')).statusCode, 409, 'a decision is not reversed')

  // Confirming rejects the record: the score drops and the board moves; the hold stays.
  const live = await liveFrames(t, app, distance)
  const confirmed = await decide(byReason.speed.id, 'confirm')
  t.equal(confirmed.statusCode, 200)
  t.equal(confirmed.json().sample.rejected, true)
  t.same(await participant(app, distance, alice.id), { score: 5000, flagged: true })
  await live.waitForScore(alice.id, 5000)
  const { rows: totals } = await app.pg.query('SELECT value::float8 AS v FROM daily_totals WHERE user_id = $1 AND metric = \'distance_m\'', [alice.id])
  t.same(totals, [{ v: 5000 }], 'the rejected record left the daily total')
  t.equal((await decide(999999, 'confirm')).statusCode, 404)
})

test('flagged data is held out of the prize calculation until an admin clears it', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const admin = person({ admin: true })
  const alice = person()
  const bob = person()
  const competitionId = await insertCompetition(app, { startsAt: dayStart(4), endsAt: dayStart(-2), sponsorPrize: 10000 })
  for (const who of [alice, bob]) await join(app, who, competitionId)
  await syncOk(app, bob, { source: 'healthkit', samples: [sample({ start: dayStart(1) + 8 * HOUR, minutes: 90, value: 9000 })] })
  // 50,000 steps in ten minutes: more than any honest score here.
  const cheat = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ start: dayStart(1) + 9 * HOUR, minutes: 10, value: 50000 })] })
  t.same(cheat.flagged.map((f: { reason: string }) => f.reason), ['steps_rate'])

  const prizes = async () => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${competitionId}`, headers: admin.headers })
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  const held = await prizes()
  t.same(held.winners.map((w: { userId: string }) => w.userId), [bob.id], 'the honest participant wins')
  t.same(held.heldOut.map((h: { userId: string, score: number }) => [h.userId, h.score]), [[alice.id, 50000]])

  const { items: [flag] } = (await app.inject({ url: `/api/v1/admin/flags?userId=${alice.id}`, headers: admin.headers })).json()
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/admin/flags/${flag.id as number}/clear`, headers: admin.headers, payload: {} })).statusCode, 200)
  const released = await prizes()
  t.same(released.winners.map((w: { userId: string }) => w.userId), [alice.id], 'cleared, the data counts for prizes again')
  t.same(released.heldOut, [])
})
