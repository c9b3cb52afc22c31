import { test } from 'tap'
import { build } from '../../helper.ts'
import { FITNESS_TEST_CONFIG, HOUR, dailyTotals, insertCompetition, join, participant, person, sample, sync, syncOk } from './fixtures.ts'

// One walk counted once: a phone and a watch under one source (HealthKit, Health Connect).
const PHONE = { type: 'phone', id: 'com.apple.health.A1/iPhone15,2', name: 'iPhone' }
const WATCH = { type: 'watch', id: 'com.apple.health.A1/Watch6,1', name: 'Apple Watch' }

async function setUp (t: Parameters<typeof build>[0]) {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const alice = person()
  const competitionId = await insertCompetition(app, { startsAt: Date.now() - 48 * HOUR, endsAt: Date.now() + 24 * HOUR })
  await join(app, alice, competitionId)
  // Noon of yesterday (UTC): the walk stays inside one local day.
  const walk = Date.parse(new Date(Date.now() - 24 * HOUR).toISOString().slice(0, 10) + 'T12:00:00.000Z')
  return { app, alice, competitionId, walk }
}

const steps = async (app: Awaited<ReturnType<typeof build>>, userId: string): Promise<number[]> =>
  (await dailyTotals(app, userId)).filter((d) => d.metric === 'steps').map((d) => d.value)

test('a phone and a watch over the same minutes count once (the watch)', async (t) => {
  const { app, alice, competitionId, walk } = await setUp(t)
  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'phone-1', start: walk, minutes: 30, value: 150 }), device: PHONE }] })
  t.equal((await participant(app, competitionId, alice.id)).score, 150)
  const res = await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'watch-1', start: walk, minutes: 30, value: 140 }), device: WATCH }] })
  t.same(res.days.map((d: { value: number }) => d.value), [140])
  t.same(await steps(app, alice.id), [140], 'the daily total is the watch\'s, not 290')
  t.equal((await participant(app, competitionId, alice.id)).score, 140)

  // The same two records sent in one batch, in the other order, by someone else: the same.
  const bob = person()
  await join(app, bob, competitionId)
  await syncOk(app, bob, {
    source: 'healthkit',
    samples: [{ ...sample({ externalId: 'w', start: walk, minutes: 30, value: 140 }), device: WATCH }, { ...sample({ externalId: 'p', start: walk, minutes: 30, value: 150 }), device: PHONE }]
  })
  t.equal((await participant(app, competitionId, bob.id)).score, 140)

  // The watch record deleted: the phone counts again.
  await syncOk(app, alice, { source: 'healthkit', deletions: [{ externalId: 'watch-1' }] })
  t.same(await steps(app, alice.id), [150])
  t.equal((await participant(app, competitionId, alice.id)).score, 150)
})

test('a lower-priority device counts for the minutes the higher one did not record', async (t) => {
  const { app, alice, competitionId, walk } = await setUp(t)
  // The phone recorded 08:00-08:30 (300 steps); the watch only the first 15 minutes (200).
  await syncOk(app, alice, {
    source: 'health_connect',
    samples: [
      { ...sample({ externalId: 'p', start: walk, minutes: 30, value: 300 }), device: { type: 'phone', id: 'com.google.android.apps.fitness/Pixel 8' } },
      { ...sample({ externalId: 'w', start: walk, minutes: 15, value: 200 }), device: { type: 'watch', id: 'com.google.android.apps.fitness/Pixel Watch 2' } }
    ]
  })
  t.same(await steps(app, alice.id), [350], 'the watch\'s 200 and the phone\'s uncovered half, 150')
  t.equal((await participant(app, competitionId, alice.id)).score, 350)

  // Another source still combines by the maximum per day, not by adding.
  await syncOk(app, alice, { source: 'healthkit', samples: [sample({ externalId: 'hk', start: walk, minutes: 30, value: 320 })] })
  t.equal((await participant(app, competitionId, alice.id)).score, 350)
})

test('samples without a device are added as before; a revision that only names the device replaces', async (t) => {
  const { app, alice, competitionId, walk } = await setUp(t)
  await syncOk(app, alice, {
    source: 'healthkit',
    samples: [sample({ externalId: 'a', start: walk, minutes: 30, value: 150 }), sample({ externalId: 'b', start: walk, minutes: 30, value: 140 })]
  })
  t.equal((await participant(app, competitionId, alice.id)).score, 290, 'two records with no device: one lane, added')

  const revised = await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'b', version: 2, start: walk, minutes: 30, value: 140 }), device: WATCH }] })
  t.equal(revised.replaced, 1, 'the device is part of the content')
  t.equal((await participant(app, competitionId, alice.id)).score, 140, 'the watch now covers the unlabelled record')
})

test('an unknown field inside device is refused and named', async (t) => {
  const { app, alice, walk } = await setUp(t)
  const res = await sync(app, alice, { source: 'healthkit', samples: [{ ...sample({ start: walk, value: 10 }), device: { type: 'watch', serial: 'X' } }] })
  t.equal(res.statusCode, 400)
  t.match(JSON.stringify(res.json()), 'serial')
  const wrong = await sync(app, alice, { source: 'healthkit', samples: [{ ...sample({ start: walk, value: 10 }), device: { type: 'glasses' } }] })
  t.equal(wrong.statusCode, 400)
  t.match(JSON.stringify(wrong.json()), 'body.samples.0.device.type')
})

test('a watch record that moves, changes device or changes metric stops hiding the phone record under it', async (t) => {
  const { app, alice, competitionId, walk } = await setUp(t)
  const pair = [{ ...sample({ externalId: 'p', start: walk, minutes: 30, value: 150 }), device: PHONE }]
  await syncOk(app, alice, { source: 'healthkit', samples: [...pair, { ...sample({ externalId: 'w', start: walk, minutes: 30, value: 140 }), device: WATCH }] })
  t.equal((await participant(app, competitionId, alice.id)).score, 140)

  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'w', version: 2, start: walk + 2 * HOUR, minutes: 30, value: 140 }), device: WATCH }] })
  t.same(await steps(app, alice.id), [290], 'moved two hours later: both count')
  t.equal((await participant(app, competitionId, alice.id)).score, 290)

  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'w', version: 3, start: walk, minutes: 30, value: 140 }), device: WATCH }] })
  t.equal((await participant(app, competitionId, alice.id)).score, 140, 'moved back: the watch hides the phone again')

  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'w', version: 4, start: walk, minutes: 30, value: 140 }), device: PHONE }] })
  t.same(await steps(app, alice.id), [290], 'now the same phone: one lane, added')
  t.equal((await participant(app, competitionId, alice.id)).score, 290)

  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'w', version: 5, start: walk, minutes: 30, value: 140 }), device: WATCH }] })
  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...sample({ externalId: 'w', version: 6, metric: 'active_minutes', start: walk, minutes: 30, value: 25 }), device: WATCH }] })
  t.same(await steps(app, alice.id), [150], 'now active minutes: the phone\'s steps count')
  t.equal((await participant(app, competitionId, alice.id)).score, 150)
})

test('a manual entry on the watch never hides what the phone recorded', async (t) => {
  const { app, alice, competitionId, walk } = await setUp(t)
  const relaxed = await insertCompetition(app, { startsAt: Date.now() - 48 * HOUR, endsAt: Date.now() + 24 * HOUR, allowManual: true })
  await join(app, alice, relaxed)
  await syncOk(app, alice, {
    source: 'healthkit',
    samples: [
      { ...sample({ externalId: 'p', start: walk, minutes: 30, value: 150 }), device: PHONE },
      { ...sample({ externalId: 'm', start: walk, minutes: 30, value: 140, recordingMethod: 'manual' }), device: WATCH },
      { ...sample({ externalId: 'm2', start: walk, minutes: 30, value: 20, recordingMethod: 'manual' }), device: PHONE }
    ]
  })
  t.equal((await participant(app, competitionId, alice.id)).score, 150, 'without manual entries the phone record counts in full')
  t.equal((await participant(app, relaxed, alice.id)).score, 290, 'with them the entry is added; the watch\'s entry hides the phone\'s')
})
