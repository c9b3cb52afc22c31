import { test } from 'tap'
import { build } from '../../helper.ts'
import { FITNESS_TEST_CONFIG, HOUR, insertCompetition, joinWithSql, participant, person, sample, sync, syncOk } from './fixtures.ts'

// The same sync path on the embedded PostgreSQL and the in-process Redis stand-in (what
// `npm start` runs on a bare machine), concurrent syncs included.
test('fitness sync in embedded mode', async (t) => {
  const app = await build(t, { config: { ...FITNESS_TEST_CONFIG, DATABASE_URL: '', REDIS_URL: '', MAX_EVENT_LOOP_DELAY_MS: 0 } })
  t.equal(app.postgresMode, 'embedded')
  const now = Date.now()
  const competitionId = await insertCompetition(app, { startsAt: now - 48 * HOUR, endsAt: now + 24 * HOUR, timeZone: 'Europe/Berlin' })
  const alice = person()
  const bob = person()
  await joinWithSql(app, alice, competitionId)
  await joinWithSql(app, bob, competitionId)

  const batch = [0, 1, 2, 3].map((i) => sample({ externalId: `s${i}`, start: now - (10 - i) * HOUR, minutes: 30, value: 1000 + i }))
  const results = await Promise.all([
    sync(app, alice, { source: 'healthkit', samples: batch }),
    sync(app, alice, { source: 'healthkit', samples: [...batch].reverse() }),
    sync(app, bob, { source: 'health_connect', samples: [sample({ start: now - 5 * HOUR, minutes: 5, value: 3000 })] })
  ])
  t.same(results.map((r) => r.statusCode), [200, 200, 200])
  t.same(await participant(app, competitionId, alice.id), { score: 4006, flagged: false })
  t.same(await participant(app, competitionId, bob.id), { score: 3000, flagged: true }, '600 steps a minute is flagged')

  await syncOk(app, alice, { source: 'healthkit', samples: [{ ...batch[0], version: 2, value: 2000 }], deletions: [{ externalId: 's3' }] })
  t.equal((await participant(app, competitionId, alice.id)).score, 4003)
  const board = await app.inject({ url: `/api/v1/leaderboard/${competitionId}`, headers: alice.headers })
  t.same(board.json().entries.map((e: { userId: string, score: number }) => [e.userId, e.score]), [[alice.id, 4003], [bob.id, 3000]])
})
