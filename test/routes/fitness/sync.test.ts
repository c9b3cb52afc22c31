import { test } from 'tap'
import { build } from '../../helper.ts'
import {
  FITNESS_TEST_CONFIG, HOUR, dailyTotals, insertCompetition, join, liveFrames, participant, person, sample, scoreEvents, shuffle, sync, syncOk
} from './fixtures.ts'

const DAY = 24 * HOUR
// Whole UTC days back, so the local days of the samples below are known.
const dayStart = (daysAgo: number): number => Math.floor(Date.now() / DAY) * DAY - daysAgo * DAY

test('a bad record rejects the whole batch and is named', async (t) => {
  const app = await build(t, { config: { ...FITNESS_TEST_CONFIG, FITNESS_SYNC_BATCH_MAX: 5 } })
  const alice = person()
  const good = [0, 1, 2].map((i) => sample({ start: dayStart(1) + i * HOUR, value: 100 }))

  const negative = await sync(app, alice, { source: 'healthkit', samples: [...good, sample({ start: dayStart(1), value: -5 })] })
  t.equal(negative.statusCode, 400)
  t.equal(negative.json().code, 'VALIDATION_ERROR')
  t.match(negative.json().message, /^body\.samples\.3\.value /)

  const backwards = await sync(app, alice, { source: 'healthkit', samples: [...good, { ...sample({ start: dayStart(1), value: 5 }), endTime: new Date(dayStart(2)).toISOString() }] })
  t.equal(backwards.statusCode, 400)
  t.same(backwards.json().details, [{ field: 'body.samples.3.endTime', message: 'must not be before startTime' }])

  const duplicate = await sync(app, alice, { source: 'healthkit', samples: [...good, { ...good[1] }] })
  t.equal(duplicate.statusCode, 400)
  t.match(duplicate.json().message, 'body.samples.3.externalId duplicates samples.1')

  const future = await sync(app, alice, { source: 'healthkit', samples: [sample({ start: Date.now() + HOUR, value: 5 })] })
  t.match(future.json().details[0].field, 'body.samples.0.endTime')

  const tooMany = await sync(app, alice, { source: 'healthkit', samples: [...good, ...good.map((s) => ({ ...s, externalId: `${s.externalId as string}-b` }))] })
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.json().message, /body\.samples must NOT have more than 5 items/)

  const mixed = await sync(app, alice, { source: 'healthkit', deletions: [{ externalId: 'x' }], provider: 'google_fit' })
  t.equal(mixed.statusCode, 400)
  t.match(mixed.json().message, 'body.provider')

  t.equal((await sync(app, alice, { samples: good })).statusCode, 400, 'source or provider is required')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/fitness/sync', payload: { source: 'healthkit', samples: good } })).statusCode, 401)

  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM fitness_samples')
  t.equal(rows[0].n, 0, 'nothing from a rejected batch was written')
  t.same(await dailyTotals(app, alice.id), [])
})

test('replays, shuffles and concurrent duplicates give the same totals and scores', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  // A second instance on the same stores: the concurrent requests go to different instances.
  const other = await build(t, { config: FITNESS_TEST_CONFIG, databaseUrl: app.config.DATABASE_URL, redisPrefix: app.config.REDIS_KEY_PREFIX })
  const alice = person()
  const competitionId = await insertCompetition(app, { startsAt: dayStart(3), endsAt: dayStart(-2) })
  await join(app, alice, competitionId)

  const batch = []
  for (let day = 1; day <= 3; day++) {
    for (let i = 0; i < 8; i++) batch.push(sample({ externalId: `hk-${day}-${i}`, start: dayStart(day) + (8 + i) * HOUR, minutes: 30, value: 500 + day * 10 + i }))
  }
  batch.push(sample({ externalId: 'hk-km', metric: 'distance_m', start: dayStart(1) + 9 * HOUR, minutes: 30, value: 2500.5 }))

  const first = await syncOk(app, alice, { source: 'healthkit', samples: batch })
  t.equal(first.inserted, batch.length)
  const totals = await dailyTotals(app, alice.id)
  const score = await participant(app, competitionId, alice.id)
  const events = await scoreEvents(app, competitionId, alice.id)
  const expected = batch.filter((s) => s.metric === 'steps').reduce((sum, s) => sum + (s.value as number), 0)
  t.equal(score.score, expected, 'the competition score is the sum of the window')
  t.equal(totals.length, 4)
  t.same(first.competitions, [{ competitionId, score: expected, applied: true }])

  for (let round = 1; round <= 3; round++) {
    const replay = await syncOk(app, alice, { source: 'healthkit', samples: shuffle(batch, round) })
    t.equal(replay.inserted + replay.replaced, 0, `replay ${round} writes nothing`)
    t.equal(replay.unchanged, batch.length)
  }
  const concurrent = await Promise.all([
    sync(app, alice, { source: 'healthkit', samples: shuffle(batch, 7) }),
    sync(other, alice, { source: 'healthkit', samples: shuffle(batch, 8) })
  ])
  t.same(concurrent.map((r) => r.statusCode), [200, 200])

  t.same(await dailyTotals(app, alice.id), totals, 'daily totals unchanged')
  t.same(await participant(app, competitionId, alice.id), score, 'competition score unchanged')
  t.equal(await scoreEvents(app, competitionId, alice.id), events, 'no further score events')

  // A brand-new user sending the same batch twice at once, to two instances: counted once.
  const bob = person()
  await join(app, bob, competitionId)
  const racing = await Promise.all([
    sync(app, bob, { source: 'healthkit', samples: shuffle(batch, 3) }),
    sync(other, bob, { source: 'healthkit', samples: shuffle(batch, 4) })
  ])
  t.same(racing.map((r) => r.statusCode), [200, 200])
  t.same(racing.map((r) => r.json().inserted).sort(), [0, batch.length], 'one request inserted, the other found it all stored')
  t.same((await dailyTotals(app, bob.id)).map((r) => r.value), totals.map((r) => r.value))
  t.equal((await participant(app, competitionId, bob.id)).score, expected)
  t.equal(await scoreEvents(app, competitionId, bob.id), 1)
})

test('phone and watch recording the same walk are not counted twice', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const competitionId = await insertCompetition(app, { startsAt: dayStart(3), endsAt: dayStart(-2) })
  await join(app, alice, competitionId)
  const walk = dayStart(1) + 10 * HOUR

  await syncOk(app, alice, { source: 'health_connect', samples: [sample({ start: walk, minutes: 40, value: 4000 }), sample({ start: walk + 2 * HOUR, minutes: 10, value: 800 })] })
  const watch = await syncOk(app, alice, { source: 'garmin', samples: [sample({ start: walk, minutes: 40, value: 4300 })] })

  const day = new Date(dayStart(1)).toISOString().slice(0, 10)
  t.same(watch.days, [{ day, metric: 'steps', value: 4800 }], 'the day counts the larger source, not the sum')
  t.same((await dailyTotals(app, alice.id)).map((r) => [r.source, r.value]), [['garmin', 4300], ['health_connect', 4800]])
  t.equal((await participant(app, competitionId, alice.id)).score, 4800)

  // A source sending both its samples and its own daily total for the day is not added either.
  await syncOk(app, alice, { source: 'garmin', samples: [sample({ kind: 'daily_total', start: dayStart(1), minutes: 24 * 60, value: 5100 })] })
  t.same((await dailyTotals(app, alice.id)).map((r) => [r.source, r.value]), [['garmin', 5100], ['health_connect', 4800]])
  t.equal((await participant(app, competitionId, alice.id)).score, 5100)
})

test('revisions and deletions move the leaderboard and publish live updates', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const competitionId = await insertCompetition(app, { startsAt: dayStart(3), endsAt: dayStart(-2) })
  await join(app, alice, competitionId)
  const live = await liveFrames(t, app, competitionId)
  const walk = { externalId: 'walk-1', start: dayStart(1) + 9 * HOUR, minutes: 30 }
  const board = async (): Promise<number | undefined> => {
    const res = await app.inject({ url: `/api/v1/leaderboard/${competitionId}`, headers: alice.headers })
    return res.json().entries?.find((e: any) => e.userId === alice.id)?.score
  }

  await syncOk(app, alice, { source: 'healthkit', samples: [sample({ ...walk, version: 1, value: 3000 })] })
  await live.waitForScore(alice.id, 3000)

  const revised = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ ...walk, version: 2, value: 3600 })] })
  t.equal(revised.replaced, 1)
  t.same(revised.competitions, [{ competitionId, score: 3600, applied: true }])
  const frame = await live.waitForScore(alice.id, 3600)
  t.equal(frame.entries.find((e: any) => e.userId === alice.id).previousScore, 3000)
  t.equal(await board(), 3600, 'the leaderboard shows the revision')

  const stale = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ ...walk, version: 1, value: 9000 })] })
  t.equal(stale.unchanged, 1, 'an older version is ignored')
  t.equal((await participant(app, competitionId, alice.id)).score, 3600)

  const deleted = await syncOk(app, alice, { source: 'healthkit', deletions: [{ externalId: 'walk-1' }] })
  t.equal(deleted.deleted, 1)
  t.same(deleted.days, [{ day: new Date(dayStart(1)).toISOString().slice(0, 10), metric: 'steps', value: 0 }])
  t.same(await dailyTotals(app, alice.id), [], 'the emptied day keeps no source row')
  await live.waitForScore(alice.id, 0)
  t.equal(await board(), 0, 'the leaderboard shows the deletion')

  const late = await syncOk(app, alice, { source: 'healthkit', samples: [sample({ ...walk, version: 2, value: 3600 })] })
  t.equal(late.unchanged, 1, 'a deleted record does not come back with an old version')
  t.equal((await participant(app, competitionId, alice.id)).score, 0)

  // Back to the very first value, with a new version: a new state, so it is pushed again.
  await syncOk(app, alice, { source: 'healthkit', samples: [sample({ ...walk, version: 3, value: 3000 })] })
  await live.waitForScore(alice.id, 3000)
  t.equal((await participant(app, competitionId, alice.id)).score, 3000)
  t.equal(await scoreEvents(app, competitionId, alice.id), 4, 'one score event per change')
})
