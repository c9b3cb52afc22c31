import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { resolveBackends } from '../backends.ts'
import { createSharedRateLimitStore } from '../../lib/shared-rate-limit-store.ts'

type Store = ReturnType<typeof createSharedRateLimitStore>

async function count (store: Store, key: string, windowMs: number, max: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    store.incr(key, windowMs, max, (err, res) => err ? reject(err) : resolve(res!.current))
  })
}

async function setup (t: { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }) {
  const { redisUrl } = await resolveBackends(t)
  const redis = new Redis(redisUrl, { lazyConnect: false })
  const prefix = `test:rl:${randomUUID()}:`
  const instances = [createSharedRateLimitStore(redis, prefix), createSharedRateLimitStore(redis, prefix)]
  t.teardown(async () => {
    for (const i of instances) await i.close()
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  return { redis, prefix, instances, a: instances[0]!, b: instances[1]! }
}

test('far from the limit, counts are local and reach the shared Redis counter in batches', async (t) => {
  const { redis, prefix, instances, a, b } = await setup(t)
  const seen: number[] = []
  for (let i = 0; i < 50; i++) seen.push(await count(a, 'read:u1', 60_000, 10_000))
  t.same(seen, Array.from({ length: 50 }, (_, i) => i + 1), 'each request sees its own count at once')
  for (const i of instances) await i.flush()
  t.equal(await redis.get(`${prefix}read:u1`), '50', 'Redis holds every count')
  const ttl = await redis.pttl(`${prefix}read:u1`)
  t.ok(ttl > 0 && ttl <= 60_000, 'the window expires in Redis')
  t.equal(await count(b, 'read:u1', 60_000, 10_000), 51, 'another instance starts from the shared count')
})

test('near the limit every request is counted in Redis first: exact across instances', async (t) => {
  const { a, b } = await setup(t)
  const max = 300
  const counts: number[] = []
  // 400 requests alternating between two instances, a few at a time in parallel.
  for (let i = 0; i < 100; i++) {
    counts.push(...await Promise.all([count(a, 'write:u2', 60_000, max), count(b, 'write:u2', 60_000, max), count(a, 'write:u2', 60_000, max), count(b, 'write:u2', 60_000, max)]))
  }
  t.equal(counts.filter((c) => c <= max).length, max, 'exactly the budget is let through across both instances')
  t.equal(Math.max(...counts), 400, 'every request was counted')
})

test('a Redis failure keeps counts locally and reports the store as unavailable', async (t) => {
  const { redisUrl } = await resolveBackends(t)
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false })
  t.teardown(() => redis.disconnect())
  await new Promise((resolve) => redis.once('ready', resolve))
  const prefix = `test:rl:${randomUUID()}:`
  const store = createSharedRateLimitStore(redis, prefix)
  t.equal(await count(store, 'read:u3', 60_000, 10_000), 1)
  const ended = new Promise((resolve) => redis.once('end', resolve))
  redis.disconnect()
  await t.rejects(count(store, 'read:u3', 60_000, 3), /unavailable/, 'near the limit without Redis: the limiter is told')
  t.equal(await count(store, 'read:u3', 60_000, 10_000), 2, 'far from it the count goes on locally')
  await ended
  await redis.connect()
  await store.close()
  t.equal(await redis.get(`${prefix}read:u3`), '2', 'the counts kept locally reach Redis once it is back')
  await redis.del(`${prefix}read:u3`)
})
