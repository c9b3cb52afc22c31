import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Cluster } from 'ioredis'
import { build, bearer } from '../helper.ts'
import { startRedisCluster } from '../processes.ts'
import { competitionKey, hashTag, userKey } from '../../lib/redis-keys.ts'
import { parseClusterNodes } from '../../plugins/redis.ts'

test('competition keys share one hash tag, so one competition lives on one shard', async (t) => {
  const id = randomUUID()
  t.equal(competitionKey('hc:lb:', id, 'scores'), `hc:lb:{c:${id}}:scores`)
  t.equal(hashTag(competitionKey('hc:', id, 'scores')), hashTag(competitionKey('hc:', id, 'seq')))
  t.equal(hashTag(userKey('hc:', id, 'x')), `u:${id}`)
  t.equal(hashTag('no-tag'), '')
  t.same(parseClusterNodes(' a:1, b:2 '), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }])
  t.throws(() => parseClusterNodes('nohost'), /host:port/)
})

test('with REDIS_CLUSTER_NODES the service runs on a 3-node Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  const app = await build(t, { config: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), RATE_LIMIT_MAX: 3 } })
  t.ok(app.redis instanceof Cluster, 'the command client is a cluster client')
  t.ok(app.redisSubscriber instanceof Cluster, 'so is the subscriber')
  t.equal(app.redisCluster, true)

  await t.test('readiness sees the cluster', async (t) => {
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().checks.redis.ok, true)
  })

  await t.test('rate limits count in the cluster', async (t) => {
    const alice = bearer({ sub: randomUUID() })
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await app.inject({ url: '/api/v1/me', headers: alice })).statusCode)
    t.same(codes, [200, 200, 200, 429])
  })

  await t.test('multi-key commands and scripts on one competition stay on one shard', async (t) => {
    const { redis, redisPrefix } = app
    // Competitions spread over the shards, yet each one's keys work together.
    const slots = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const id = randomUUID()
      const scores = competitionKey(redisPrefix, id, 'scores')
      const seq = competitionKey(redisPrefix, id, 'seq')
      const replies = await redis.multi().zadd(scores, 10, 'a', 20, 'b').incr(seq).exec()
      t.same(replies?.map(([err]) => err), [null, null])
      const [top, next] = await redis.eval(
        "redis.call('INCR', KEYS[2]); return { redis.call('ZREVRANGE', KEYS[1], 0, 0), redis.call('GET', KEYS[2]) }",
        2, scores, seq) as [string[], string]
      t.same(top, ['b'])
      t.equal(next, '2')
      slots.add(Number((await redis.cluster('KEYSLOT', scores))))
      await redis.del(scores, seq)
    }
    t.ok(slots.size > 1, 'different competitions land in different slots')
    await t.rejects(redis.mget(`${redisPrefix}one`, `${redisPrefix}two-of-another-slot`), /CROSSSLOT/, 'untagged multi-key commands are refused, which is why keys are tagged')
  })

  await t.test('pub/sub reaches the subscriber across the cluster', async (t) => {
    const channel = `${app.redisPrefix}test:${randomUUID()}`
    await app.redisSubscriber.subscribe(channel)
    const received = new Promise<string>((resolve) => app.redisSubscriber.once('message', (_c: string, message: string) => resolve(message)))
    // Published on whichever node the command client picks: cluster pub/sub is broadcast.
    await app.redis.publish(channel, 'hello')
    t.equal(await received, 'hello')
    await app.redisSubscriber.unsubscribe(channel)
  })
})
