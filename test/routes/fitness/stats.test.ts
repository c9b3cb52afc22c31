import { test } from 'tap'
import { build } from '../../helper.ts'
import { FITNESS_TEST_CONFIG, person, sample, syncOk } from './fixtures.ts'
import { addDays, zoneDay } from '../../../services/shared/time-zones.ts'

const dayTotal = (day: string, value: number) =>
  sample({ externalId: `day-${day}`, kind: 'daily_total', start: Date.parse(`${day}T00:00:00Z`), minutes: 24 * 60, value })

test('stats: totals by day, week and month, streaks and personal bests; own data or admin only', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const days: Array<[string, number]> = [
    ['2025-02-26', 12000], ['2025-02-27', 12000],
    ['2025-03-01', 10000], ['2025-03-02', 10000], ['2025-03-03', 10000], ['2025-03-04', 10000], ['2025-03-05', 10000],
    ['2025-03-06', 4000], ['2025-03-10', 20000], ['2025-03-11', 10000], ['2025-03-12', 11000]
  ]
  await syncOk(app, alice, { source: 'healthkit', samples: days.map(([day, value]) => dayTotal(day, value)) })
  // A watch reporting more for one day: the larger source counts, the two are not added.
  await syncOk(app, alice, { source: 'garmin', samples: [dayTotal('2025-03-12', 12500)] })

  const res = await app.inject({ url: `/api/v1/fitness/stats/${alice.id}?from=2025-03-01&to=2025-03-12&metric=steps`, headers: alice.headers })
  t.equal(res.statusCode, 200, res.body)
  const stats = res.json()
  t.match(stats, { userId: alice.id, from: '2025-03-01', to: '2025-03-12', timeZone: 'UTC' })
  t.match(stats.rule, /maximum across sources/)
  const steps = stats.metrics[0]
  t.equal(stats.metrics.length, 1)
  t.equal(steps.total, 96500)
  t.equal(steps.daily.length, 12)
  t.same(steps.daily.slice(5, 9), [{ start: '2025-03-06', value: 4000 }, { start: '2025-03-07', value: 0 }, { start: '2025-03-08', value: 0 }, { start: '2025-03-09', value: 0 }])
  t.same(steps.daily.at(-1), { start: '2025-03-12', value: 12500 })
  t.same(steps.weekly, [{ start: '2025-02-24', value: 20000 }, { start: '2025-03-03', value: 34000 }, { start: '2025-03-10', value: 42500 }])
  t.same(steps.monthly, [{ start: '2025-03-01', value: 96500 }])
  t.same(steps.streak, { goal: 10000, current: 3, longest: 5 })
  t.same(steps.personalBests, {
    day: { start: '2025-03-10', value: 20000 },
    week: { start: '2025-02-24', value: 44000 },
    month: { start: '2025-03-01', value: 96500 }
  })

  const goal = await app.inject({ url: `/api/v1/fitness/stats/${alice.id}?from=2025-03-01&to=2025-03-12&metric=steps&goal=15000`, headers: alice.headers })
  t.same(goal.json().metrics[0].streak, { goal: 15000, current: 0, longest: 1 })

  // Defaults: every metric, the 30 days up to today in the user's zone.
  const all = await app.inject({ url: `/api/v1/fitness/stats/${alice.id}`, headers: alice.headers })
  const today = zoneDay(new Date(), 'UTC')
  t.match(all.json(), { from: addDays(today, -29), to: today })
  t.same(all.json().metrics.map((m: { metric: string }) => m.metric), ['steps', 'distance_m', 'active_kcal', 'active_minutes'])
  t.equal(all.json().metrics[0].personalBests.day.value, 20000, 'personal bests look at all history')

  const backwards = await app.inject({ url: `/api/v1/fitness/stats/${alice.id}?from=2025-03-12&to=2025-03-01`, headers: alice.headers })
  t.equal(backwards.statusCode, 400)
  t.same(backwards.json().details, [{ field: 'querystring.from', message: 'must not be after to' }])

  const bob = person()
  t.equal((await app.inject({ url: `/api/v1/fitness/stats/${alice.id}`, headers: bob.headers })).statusCode, 403)
  t.equal((await app.inject({ url: `/api/v1/fitness/stats/${alice.id}` })).statusCode, 401)
  t.equal((await app.inject({ url: `/api/v1/fitness/stats/${alice.id}`, headers: person({ admin: true }).headers })).statusCode, 200)
  const empty = await app.inject({ url: `/api/v1/fitness/stats/${bob.id}?metric=steps`, headers: bob.headers })
  t.same(empty.json().metrics[0].personalBests, { day: null, week: null, month: null })
})
