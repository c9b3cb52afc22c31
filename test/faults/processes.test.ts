import { test } from 'tap'
import pg from 'pg'
import { Redis, Cluster } from 'ioredis'
import { startPostgresServer, startRedisServer, startRedisCluster } from '../processes.ts'

// The private servers the fault tests rely on start, stop, restart and clean up.
test('a private redis-server stops and starts again on the same port', async (t) => {
  const redis = await startRedisServer(t)
  t.not(redis.port, 6379)
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await client.connect()
  t.equal(await client.set('k', 'v'), 'OK')
  await redis.kill()
  t.notOk(redis.running())
  await t.rejects(client.get('k'))
  await redis.start()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await client.get('k'), null, 'a restarted server is empty')
})

test('a private PostgreSQL stops and starts again', async (t) => {
  const postgres = await startPostgresServer(t)
  t.not(postgres.port, 5432)
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: postgres.url, connectionTimeoutMillis: 1000 })
    try {
      await client.connect()
      return (await client.query(sql)).rows
    } finally {
      await client.end().catch(() => {})
    }
  }
  t.same(await query('SELECT 1 AS one'), [{ one: 1 }])
  await postgres.stop()
  await t.rejects(query('SELECT 1'))
  await postgres.start()
  t.same(await query('SELECT 2 AS two'), [{ two: 2 }])
})

test('a private 3-node Redis Cluster serves hash-tagged multi-key commands', async (t) => {
  const cluster = await startRedisCluster(t)
  t.equal(cluster.nodes.length, 3)
  const client = new Cluster(cluster.nodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })))
  t.teardown(() => client.disconnect())
  await client.mset('{c:1}:a', '1', '{c:1}:b', '2')
  t.same(await client.mget('{c:1}:a', '{c:1}:b'), ['1', '2'])
  await t.rejects(client.mget('x-one', 'y-two-other'), /CROSSSLOT|different slots/i, 'keys without a shared tag are refused')
})
