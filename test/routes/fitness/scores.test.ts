import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { addDays, zoneDay, zoneOffsetMinutes } from '../../../services/shared/time-zones.ts'
import {
  FITNESS_TEST_CONFIG, HOUR, dailyTotals, eventually, insertCompetition, join, joinWithSql, liveFrames, participant, person, sample, syncOk
} from './fixtures.ts'

const ZONE = 'America/New_York'

// Local wall-clock time in New York to an instant, by Postgres' time-zone rules.
async function newYork (app: FastifyInstance, day: string, time: string): Promise<number> {
  const { rows } = await app.pg.query<{ at: Date }>('SELECT ($1::timestamp AT TIME ZONE $2) AS at', [`${day} ${time}`, ZONE])
  return rows[0]!.at.getTime()
}

// A competition over two New York days, d0 and d1, that ended but is still within its grace
// period, with one participant added with SQL (the API no longer lets anyone join a
// competition that has ended); `at` gives a New York wall-clock time as a sample's start.
async function twoNewYorkDays (app: FastifyInstance) {
  const d0 = zoneDay(new Date(Date.now() - 4 * 24 * HOUR), ZONE)
  const competitionId = await insertCompetition(app, {
    startsAt: await newYork(app, d0, '00:00'), endsAt: await newYork(app, addDays(d0, 2), '00:00'), timeZone: ZONE, graceSeconds: 7 * 24 * 3600
  })
  const runner = person()
  await joinWithSql(app, runner, competitionId)
  const at = async (day: string, time: string) => {
    const start = await newYork(app, day, time)
    return { start, tzOffsetMinutes: zoneOffsetMinutes(ZONE, new Date(start)) }
  }
  return { d0, d1: addDays(d0, 1), competitionId, runner, at }
}

test('a day crossing midnight in the competition\'s time zone lands on the right day', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const { d0, d1, competitionId, runner: alice, at } = await twoNewYorkDays(app)

  // 23:30 in New York is already the next day in UTC: phone late on d0, watch early on d1.
  // Counted by UTC days both would fall on one day and only the larger would count.
  await syncOk(app, alice, {
    source: 'health_connect',
    samples: [
      sample({ externalId: 'late-d0', ...await at(d0, '23:30'), minutes: 20, value: 1000 }),
      // Before the window: 23:00 on the eve of d0 (04:00 UTC on d0) does not count.
      sample({ externalId: 'eve', ...await at(addDays(d0, -1), '23:00'), minutes: 20, value: 700 })
    ]
  })
  const watch = await syncOk(app, alice, {
    source: 'garmin',
    samples: [
      sample({ externalId: 'early-d1', ...await at(d1, '00:10'), minutes: 20, value: 1000 }),
      // Crosses the end of the window at midnight: the 10 minutes before it count (300 of 600).
      sample({ externalId: 'crossing-end', ...await at(d1, '23:50'), minutes: 20, value: 600 })
    ]
  })

  t.same(watch.competitions, [{ competitionId, score: 2300, applied: true }])
  t.equal((await participant(app, competitionId, alice.id)).score, 2300, 'd0: 1000, d1: 1000 + 300')
  // The user's own local days (from each record's offset) hold the records whole.
  const days = (await dailyTotals(app, alice.id)).map((r) => [r.day, r.source, r.value])
  t.same(days, [[addDays(d0, -1), 'health_connect', 700], [d0, 'health_connect', 1000], [d1, 'garmin', 1600]])
})

test('a record crossing local midnight inside the window is split between the two days in proportion to time', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const { d0, d1, competitionId, runner: bob, at } = await twoNewYorkDays(app)
  // 23:30 on d0 to 00:30 on d1: 500 to each day. On d1 another source has 300, less than the
  // 500 this record gives d1, so the day counts 500: 1,000 in all (800 if the part after
  // midnight were lost, 1,300 if the whole record counted on d0).
  const walk = await syncOk(app, bob, { source: 'health_connect', samples: [sample({ externalId: 'walk', ...await at(d0, '23:30'), minutes: 60, value: 1000 })] })
  t.same(walk.competitions, [{ competitionId, score: 1000, applied: true }])
  const morning = await syncOk(app, bob, { source: 'garmin', samples: [sample({ externalId: 'morning', ...await at(d1, '08:00'), minutes: 20, value: 300 })] })
  t.same(morning.competitions, [{ competitionId, score: 1000, applied: false }], 'd1 keeps the larger source: unchanged')
  t.equal((await participant(app, competitionId, bob.id)).score, 1000)
})

test('manual entries count only where the competition allows them; metrics stay apart', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  // Noon (UTC) two days ago, so the records an hour apart stay on one local day whatever the time of the run.
  const base = Date.parse(new Date(Date.now() - 2 * 24 * HOUR).toISOString().slice(0, 10) + 'T12:00:00.000Z')
  const window = { startsAt: base - 24 * HOUR, endsAt: base + 3 * 24 * HOUR }
  const strict = await insertCompetition(app, window)
  const relaxed = await insertCompetition(app, { ...window, allowManual: true })
  const distance = await insertCompetition(app, { ...window, metric: 'distance_m' })
  for (const id of [strict, relaxed, distance]) await join(app, alice, id)

  await syncOk(app, alice, {
    source: 'healthkit',
    samples: [
      sample({ start: base, value: 1000 }),
      // HealthKit's WasUserEntered.
      sample({ start: base + HOUR, value: 500, recordingMethod: 'manual' }),
      sample({ start: base + 2 * HOUR, metric: 'distance_m', value: 800 })
    ]
  })
  const typed = await syncOk(app, alice, { source: 'manual', samples: [sample({ start: base + 24 * HOUR, value: 200 })] })

  const moved = typed.competitions.filter((c: { applied: boolean }) => c.applied)
  t.same(moved, [{ competitionId: relaxed, score: 1700, applied: true }], 'only the competition counting manual steps moves')
  t.equal((await participant(app, strict, alice.id)).score, 1000)
  t.equal((await participant(app, relaxed, alice.id)).score, 1700)
  t.equal((await participant(app, distance, alice.id)).score, 800)
})

test('late data counts within the grace period and is only stored after it', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const now = Date.now()
  const inGrace = await insertCompetition(app, { startsAt: now - 48 * HOUR, endsAt: now - HOUR, status: 'grace', graceSeconds: 2 * 3600 })
  // Grace over, though no sweeper has moved it on yet; and one already final.
  const graceOver = await insertCompetition(app, { startsAt: now - 48 * HOUR, endsAt: now - 3 * HOUR, status: 'grace', graceSeconds: 3600 })
  const final = await insertCompetition(app, { startsAt: now - 48 * HOUR, endsAt: now - 3 * HOUR, status: 'final' })
  for (const id of [inGrace, graceOver, final]) await joinWithSql(app, alice, id)

  const result = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ start: now - 5 * HOUR, value: 4200 })] })
  t.same(result.competitions, [{ competitionId: inGrace, score: 4200, applied: true }])
  t.equal((await participant(app, inGrace, alice.id)).score, 4200)
  t.equal((await participant(app, graceOver, alice.id)).score, 0, 'after the grace period data no longer moves the competition')
  t.equal((await participant(app, final, alice.id)).score, 0)
  t.equal((await dailyTotals(app, alice.id))[0]?.value, 4200, 'but it is stored')
})

test('joining a running competition counts data synced before joining', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const now = Date.now()
  const competitionId = await insertCompetition(app, { startsAt: now - 24 * HOUR, endsAt: now + 24 * HOUR })
  const before = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ start: now - 3 * HOUR, value: 2500 })] })
  t.same(before.competitions, [])

  const live = await liveFrames(t, app, competitionId)
  await join(app, alice, competitionId)
  await eventually(async () => (await participant(app, competitionId, alice.id)).score === 2500 ? true : undefined)
  await live.waitForScore(alice.id, 2500)
  t.pass('the stored data was scored on joining')
})

test('a competition that opens counts data synced between its start time and the sweep', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const bob = person()
  const now = Date.now()
  const competitionId = await insertCompetition(app, { startsAt: now - HOUR, endsAt: now + 24 * HOUR, status: 'scheduled' })
  await join(app, bob, competitionId)
  const synced = await syncOk(app, bob, { source: 'healthkit', samples: [sample({ start: now - HOUR / 2, value: 1800 })] })
  t.same(synced.competitions, [], 'a scheduled competition is not scored yet')
  t.equal((await participant(app, competitionId, bob.id)).score, 0)

  await app.lifecycle.sweep(new Date())
  await eventually(async () => (await participant(app, competitionId, bob.id)).score === 1800 ? true : undefined)
  t.pass('opening the competition scored the stored data')
})
