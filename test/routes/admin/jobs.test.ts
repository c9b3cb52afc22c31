import { test } from 'tap'
import { build, bearer } from '../../helper.ts'
import { eventually } from '../leaderboard/fixtures.ts'

const admin = bearer({ sub: '00000000-0000-4000-8000-00000000ad01', admin: true })

// A job that fails every attempt ends in the dead-letter queue; an admin lists it and sends it
// back to its queue, where it runs again (and this time succeeds).
test('dead jobs are listed and retried by admins', async (t) => {
  let fail = true
  const runs: string[] = []
  const app = await build(t, {
    config: { LIFECYCLE_JOBS: false },
    extend: async (fastify) => {
      await fastify.jobs.work<{ key: string }>('test.flaky', {}, async ({ key }) => {
        runs.push(key)
        if (fail) throw new Error(`${key} broke`)
      })
    }
  })
  // No retries for this one job, so it is dead after its first failure.
  await app.jobs.boss.send('test.flaky', { key: 'k1' }, { retryLimit: 0 })

  const dead = await eventually(async () => {
    const res = await app.inject({ url: '/api/v1/admin/jobs/dead', headers: admin })
    return res.json().items.length === 1 ? res.json().items[0] : undefined
  }, 15_000, 'the job in the dead-letter queue')
  t.match(dead, { queue: 'test.flaky', data: { key: 'k1' } })
  t.same(runs, ['k1'], 'it ran once and failed')

  const queues = await app.inject({ url: '/api/v1/admin/jobs', headers: admin })
  t.equal(queues.statusCode, 200)
  t.ok(queues.json().queues.some((q: any) => q.name === 'test.flaky'), 'the queue is listed')

  fail = false
  const retried = await app.inject({ method: 'POST', url: `/api/v1/admin/jobs/dead/${dead.id}/retry`, headers: admin })
  t.equal(retried.statusCode, 202)
  await eventually(async () => runs.length === 2, 15_000, 'the retried job ran')
  t.same(runs, ['k1', 'k1'])
  const after = await app.inject({ url: '/api/v1/admin/jobs/dead', headers: admin })
  t.same(after.json().items, [], 'nothing dead any more')

  const missing = await app.inject({ method: 'POST', url: `/api/v1/admin/jobs/dead/${dead.id}/retry`, headers: admin })
  t.equal(missing.statusCode, 404, 'a job that is not dead cannot be retried')
  const user = await app.inject({ url: '/api/v1/admin/jobs/dead', headers: bearer({ sub: '00000000-0000-4000-8000-000000000001' }) })
  t.equal(user.statusCode, 403, 'admins only')
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /job_queue_depth\{queue="test.flaky"\} \d+/, 'queue depth is exposed')
})
