import { test } from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'

// Shutdown with a job in hand: it finishes within JOB_SHUTDOWN_TIMEOUT_MS, or it is given back
// to the queue for another instance, never left claimed by an instance that is gone.

async function slowJob (t: Parameters<typeof build>[0], runMs: number, shutdownMs: number) {
  const events: string[] = []
  let started!: () => void
  const running = new Promise<void>((resolve) => { started = resolve })
  const app = await build(t, {
    config: { LIFECYCLE_JOBS: false, JOB_SHUTDOWN_TIMEOUT_MS: shutdownMs },
    extend: async (fastify: FastifyInstance) => {
      await fastify.jobs.work('test.slow', {}, async () => {
        events.push('started')
        started()
        await new Promise((resolve) => setTimeout(resolve, runMs))
        events.push('finished')
      })
    }
  })
  const id = await app.jobs.boss.send('test.slow', {})
  await running
  return { app, id: id!, events }
}

async function stateOf (databaseUrl: string, id: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT state FROM pgboss.job WHERE id = $1', [id])
    return rows[0].state
  } finally {
    await client.end()
  }
}

test('a running job finishes before the instance closes', async (t) => {
  const { app, id, events } = await slowJob(t, 300, 5000)
  await app.close()
  t.same(events, ['started', 'finished'], 'close waited for the job')
  t.equal(await stateOf(app.config.DATABASE_URL, id), 'completed')
})

test('a job still running when the shutdown time is up is given back to the queue', async (t) => {
  const { app, id, events } = await slowJob(t, 3000, 200)
  await app.close()
  t.same(events, ['started'], 'close did not wait past JOB_SHUTDOWN_TIMEOUT_MS')
  const state = await stateOf(app.config.DATABASE_URL, id)
  t.ok(['created', 'retry'].includes(state), `runnable again by another instance (${state}), not left claimed`)
})
