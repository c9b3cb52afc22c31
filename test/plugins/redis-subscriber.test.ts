import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../helper.ts'

test('the subscriber connection is ready for SUBSCRIBE as soon as the app is', async (t) => {
  const app = await build(t)
  t.equal(app.redisCluster, false)
  t.equal(app.redisSubscriber.status, 'ready')
  const channel = `${app.redisPrefix}test:${randomUUID()}`
  await app.redisSubscriber.subscribe(channel)
  const received = new Promise<string>((resolve) => app.redisSubscriber.once('message', (_c: string, message: string) => resolve(message)))
  await app.redis.publish(channel, 'hello')
  t.equal(await received, 'hello')
  await app.redisSubscriber.unsubscribe(channel)
})
