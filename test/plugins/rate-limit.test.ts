import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helper.ts'

test('rate limit answers 429 with Retry-After in the error shape, per user', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW_MS: 60_000 } })
  const alice = bearer({ sub: randomUUID() })
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ url: '/api/v1/me', headers: alice })).statusCode)
  t.same(codes, [200, 200, 200, 429])
  const limited = await app.inject({ url: '/api/v1/me', headers: alice })
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set')
  t.equal(limited.headers['x-ratelimit-limit'], '3')
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: /read requests exceeded, retry in \d+ s/ })
  const bob = await app.inject({ url: '/api/v1/me', headers: bearer({ sub: randomUUID() }) })
  t.equal(bob.statusCode, 200, 'another user has a budget of their own')
})

test('every limited answer tells the caller their budget, what is left and when it resets', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 5, RATE_LIMIT_WINDOW_MS: 30_000 } })
  const headers = bearer({ sub: randomUUID() })
  const seen = []
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/api/v1/me', headers })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-limit'], '5')
    const reset = Number(res.headers['x-ratelimit-reset'])
    t.ok(reset > 0 && reset <= 30, `resets within the 30 s window (${reset})`)
    t.notOk(res.headers['retry-after'], 'no Retry-After while allowed')
    seen.push(res.headers['x-ratelimit-remaining'])
  }
  t.same(seen, ['4', '3', '2'])
})

test('health checks are not rate limited', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 1 } })
  for (const url of ['/health', '/health', '/health/ready', '/health/ready']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.notOk(res.headers['x-ratelimit-limit'], `${url} carries no rate-limit headers`)
  }
})

test('without Redis the limiter lets requests through uncounted', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 1 } })
  const headers = bearer({ sub: randomUUID() })
  app.redis.disconnect()
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/api/v1/me', headers })
    t.equal(res.statusCode, 200, 'a Redis outage does not take the API down')
    t.notOk(res.headers['x-ratelimit-limit'], 'nothing was counted, so no budget is claimed')
  }
  // Back for the app's own shutdown, which quits the connection.
  await app.redis.connect()
})

test('rate limit budget is shared by instances through Redis', async (t) => {
  const first = await build(t, { config: { RATE_LIMIT_MAX: 2 } })
  const config = { databaseUrl: first.config.DATABASE_URL, redisPrefix: first.config.REDIS_KEY_PREFIX, config: { RATE_LIMIT_MAX: 2 } }
  const second = await build(t, config)
  const carol = bearer({ sub: randomUUID() })
  t.equal((await first.inject({ url: '/api/v1/me', headers: carol })).statusCode, 200)
  t.equal((await second.inject({ url: '/api/v1/me', headers: carol })).statusCode, 200)
  t.equal((await first.inject({ url: '/api/v1/me', headers: carol })).statusCode, 429)
})
