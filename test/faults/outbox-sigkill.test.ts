import { test } from 'tap'
import { build, createDataDir, TEST_JWT_SECRET } from '../helper.ts'
import { startServerProcess } from '../processes.ts'
import { HOUR, insertCompetition, person, participant, sample, syncOk } from '../routes/fitness/fixtures.ts'
import { eventually } from '../routes/leaderboard/fixtures.ts'

// A domain event is written in the transaction of its change. Here the instance that committed
// a join is killed (SIGKILL: no shutdown code runs) before any instance processed the join's
// event; a restarted instance then processes it, once. The witness is the fitness consumer:
// the joined user's stored steps are counted into the competition exactly once.

test('an event committed just before a SIGKILL takes effect once after a restart', async (t) => {
  // This process's instance runs no jobs: it only seeds data and reads results.
  const reader = await build(t, { config: { JOB_WORKERS: false, LIFECYCLE_JOBS: false } })
  const env = {
    DATABASE_URL: reader.config.DATABASE_URL,
    REDIS_URL: reader.config.REDIS_URL,
    REDIS_KEY_PREFIX: reader.redisPrefix,
    JWT_SECRET: TEST_JWT_SECRET,
    LIFECYCLE_JOBS: 'false',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: await createDataDir(t)
  }
  const runner = person()
  const now = Date.now()
  const competitionId = await insertCompetition(reader, { startsAt: now - 2 * HOUR, endsAt: now + 24 * HOUR })
  // Steps synced before joining: the join's event makes the fitness consumer count them.
  await syncOk(reader, runner, { source: 'healthkit', samples: [sample({ value: 4200, start: now - HOUR, minutes: 40 })] })

  // Instance A commits the join, and is killed before it (or anyone) runs the event's jobs.
  const a = await startServerProcess(t, { ...env, JOB_WORKERS: 'false' })
  const joined = await fetch(`${a.base}/api/v1/competitions/${competitionId}/join`, { method: 'POST', headers: { ...runner.headers, 'content-type': 'application/json' }, body: '{}' })
  t.equal(joined.status, 200, 'the join committed on A')
  a.child.kill('SIGKILL')
  t.same(await a.exited, { code: null, signal: 'SIGKILL' }, 'A is gone without any shutdown')
  t.equal((await participant(reader, competitionId, runner.id)).score, 0, 'nothing processed the event yet')

  // Instance B starts with workers and finds the event waiting.
  const b = await startServerProcess(t, env)
  const score = await eventually(async () => {
    const { score } = await participant(reader, competitionId, runner.id)
    return score > 0 ? score : undefined
  }, 20_000, 'the join event processed after the restart')
  t.equal(score, 4200, 'the stored steps counted once')

  const { rows: events } = await reader.pg.query('SELECT id FROM domain_events WHERE type = \'participant.joined\' AND user_id = $1', [runner.id])
  t.equal(events.length, 1, 'one event for the one join')
  const jobs = await eventually(async () => {
    const { rows } = await reader.pg.query(`SELECT name, state FROM pgboss.job
      WHERE name LIKE 'events.%' AND data->>'id' = $1 ORDER BY name`, [events[0].id])
    return rows.every((r) => r.state === 'completed') ? rows : undefined
  }, 10_000, 'the event\'s jobs completed')
  t.same(jobs, [{ name: 'events.fitness', state: 'completed' }, { name: 'events.leaderboard', state: 'completed' }],
    'one job per consumer, each completed once')

  // A second restart finds nothing left to do and changes nothing.
  b.child.kill('SIGTERM')
  await b.exited
  await startServerProcess(t, env)
  const { rows: scoreEvents } = await reader.pg.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1 AND user_id = $2', [competitionId, runner.id])
  t.equal(scoreEvents[0].n, 1, 'one score change, however often instances restart')
  t.equal((await participant(reader, competitionId, runner.id)).score, 4200)
})
