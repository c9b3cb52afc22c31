import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { eventually } from '../../routes/leaderboard/fixtures.ts'

// Three instances share one queue of 10,000 jobs. Each job's effect is a row keyed by the job's
// key; a second run of any job would find its row taken and count itself as a repeat.

const JOBS = 10_000
const QUEUE = 'test.effects'

test('three instances process 10,000 jobs, each taking effect once', async (t) => {
  const repeats: string[] = []
  const instance = (index: number) => async (fastify: FastifyInstance) => {
    await fastify.jobs.work<{ key: string }>(QUEUE, { concurrency: 8 }, async ({ key }) => {
      const { rowCount } = await fastify.pg.query('INSERT INTO job_effects (key, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING', [key, index])
      if (rowCount === 0) repeats.push(key)
    })
  }
  const config = { LIFECYCLE_JOBS: false, DATABASE_POOL_MAX: 10 }
  const first = await build(t, { config, extend: instance(0) })
  await first.pg.query('CREATE TABLE job_effects (key text PRIMARY KEY, instance int NOT NULL)')
  const shared = { databaseUrl: first.config.DATABASE_URL, redisPrefix: first.config.REDIS_KEY_PREFIX, config }
  await build(t, { ...shared, extend: instance(1) })
  await build(t, { ...shared, extend: instance(2) })

  // Enqueued in transactions of 1,000, as a batch of domain changes would.
  for (let from = 0; from < JOBS; from += 1000) {
    const client = await first.pg.connect()
    try {
      await client.query('BEGIN')
      await first.jobs.sendMany(client, QUEUE, Array.from({ length: 1000 }, (_, i) => ({ data: { key: `job-${from + i}` } })))
      await client.query('COMMIT')
    } finally {
      client.release()
    }
  }

  const done = await eventually(async () => {
    const { rows } = await first.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM job_effects')
    return rows[0]!.n === JOBS ? rows[0]!.n : undefined
  }, 120_000, 'every job processed')
  t.equal(done, JOBS, 'every job took effect')
  t.same(repeats, [], 'no job ran twice')
  // Counted from the rows: a handler's own tally may lag the commit the check above saw.
  const { rows: shares } = await first.pg.query<{ instance: number, n: number }>('SELECT instance, count(*)::int AS n FROM job_effects GROUP BY instance ORDER BY instance')
  t.same(shares.map((s) => s.instance), [0, 1, 2], `all three instances took part: ${shares.map((s) => s.n).join(', ')}`)
  t.equal(shares.reduce((a, s) => a + s.n, 0), JOBS)
})
