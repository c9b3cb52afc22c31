import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../../helper.ts'
import { TEST_CONFIG } from '../competitions/fixtures.ts'
import { eventually } from '../leaderboard/fixtures.ts'

// Profiles read before are answered from each instance's memory; a change made on any instance
// is announced over Redis pub/sub, and a change behind the service's back is seen within
// PROFILE_CACHE_MAX_AGE_MS.

const CONFIG = { ...TEST_CONFIG, PROFILE_CACHE_MAX_AGE_MS: 300 }

async function twoInstances (t: Parameters<typeof build>[0]) {
  const a = await build(t, { config: CONFIG })
  const b = await build(t, { config: CONFIG, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  const id = randomUUID()
  const headers = bearer({ sub: id, claims: { email: 'grace@example.test', user_metadata: { full_name: 'Grace Hopper' } } })
  const url = `/api/v1/users/${id}/profile`
  return { a, b, id, headers, url }
}

test('a profile change on one instance reaches the reads of the other', async (t) => {
  const { a, b, headers, url } = await twoInstances(t)
  t.equal((await a.inject({ url, headers })).json().displayName, 'Grace Hopper')
  t.equal((await b.inject({ url, headers })).json().displayName, 'Grace Hopper', 'b remembers the profile')

  const update = await a.inject({ method: 'PUT', url, headers, payload: { displayName: 'Admiral Hopper', bio: 'Debugs' } })
  t.equal(update.statusCode, 200)
  t.match((await a.inject({ url, headers })).json(), { displayName: 'Admiral Hopper', bio: 'Debugs' }, 'the instance that changed it shows it at once')
  await eventually(async () => (await b.inject({ url, headers })).json().displayName === 'Admiral Hopper', 5000, 'b sees the change made on a')
  t.match((await b.inject({ url, headers })).json(), { displayName: 'Admiral Hopper', bio: 'Debugs' })
})

test('a remembered profile is re-checked in Redis within the maximum age', async (t) => {
  const { a, id, headers, url } = await twoInstances(t)
  const first = (await a.inject({ url, headers })).json()
  // Changed in the shared cache by hand: no announcement, so memory answers until the maximum age.
  const key = `${a.config.REDIS_KEY_PREFIX}user:profile:${id}`
  await eventually(async () => (await a.redis.get(key)) !== null, 5000, 'the profile cached in Redis')
  await a.redis.set(key, JSON.stringify({ ...first, bio: 'edited by hand' }), 'EX', 60)
  const soon = (await a.inject({ url, headers })).json()
  t.equal(soon.bio, '', 'answered from memory right after')
  const started = Date.now()
  await eventually(async () => (await a.inject({ url, headers })).json().bio === 'edited by hand', 5000, 'the hand edit')
  t.ok(Date.now() - started <= CONFIG.PROFILE_CACHE_MAX_AGE_MS + 1000, 'seen within the maximum age')
})

test('with PROFILE_CACHE_MAX_AGE_MS=0 every read asks Redis', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, PROFILE_CACHE_MAX_AGE_MS: 0 } })
  const id = randomUUID()
  const headers = bearer({ sub: id })
  const url = `/api/v1/users/${id}/profile`
  const first = (await app.inject({ url, headers })).json()
  const key = `${app.config.REDIS_KEY_PREFIX}user:profile:${id}`
  await app.redis.set(key, JSON.stringify({ ...first, bio: 'edited by hand' }), 'EX', 60)
  t.equal((await app.inject({ url, headers })).json().bio, 'edited by hand')
})
