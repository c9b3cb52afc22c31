import { test } from 'tap'
import { countingJwksServer } from '../jwks-server.ts'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createJwksKeySet } from '../../lib/jwks-key-set.ts'

function rsaJwk (kid: string) {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

test('unknown kids cost at most one fetch per interval, whatever the traffic', async (t) => {
  const jwks = await countingJwksServer(t)
  const known = rsaJwk('rsa-1')
  jwks.state.keys = [known.jwk]
  let clock = 1_000_000
  const keySet = createJwksKeySet({ url: jwks.url, minRefreshMs: 30_000, maxAgeMs: 600_000, now: () => clock })

  t.equal(await keySet.getPublicKey('RS256', 'rsa-1'), known.pem, 'a published key is found')
  t.equal(jwks.state.fetches, 1)

  // 1,000 made-up kids, half at once and half one after another.
  const concurrent = await Promise.allSettled(Array.from({ length: 500 }, async () => await keySet.getPublicKey('RS256', randomUUID())))
  t.ok(concurrent.every((r) => r.status === 'rejected'), 'all refused')
  for (let i = 0; i < 500; i++) await t.rejects(keySet.getPublicKey('RS256', randomUUID()), /no key|kid/i)
  t.equal(jwks.state.fetches, 1, 'no fetch for unknown kids within the interval')

  // Past the interval, the same flood costs one fetch, shared by concurrent requests.
  clock += 30_000
  await Promise.allSettled(Array.from({ length: 500 }, async () => await keySet.getPublicKey('ES256', randomUUID())))
  t.equal(jwks.state.fetches, 2, 'one fetch for the next interval')
  t.equal(await keySet.getPublicKey('RS256', 'rsa-1'), known.pem, 'known keys keep working without a fetch')
  t.equal(jwks.state.fetches, 2)
})

test('a newly published key is picked up after the interval; removed keys go with the next read', async (t) => {
  const jwks = await countingJwksServer(t)
  const first = rsaJwk('rsa-1')
  const next = rsaJwk('rsa-2')
  jwks.state.keys = [first.jwk]
  let clock = 0
  const keySet = createJwksKeySet({ url: jwks.url, minRefreshMs: 30_000, maxAgeMs: 600_000, now: () => clock })
  await keySet.getPublicKey('RS256', 'rsa-1')

  jwks.state.keys = [first.jwk, next.jwk]
  clock += 10_000
  await t.rejects(keySet.getPublicKey('RS256', 'rsa-2'), 'not yet: the set was read 10 s ago')
  clock += 20_000
  t.equal(await keySet.getPublicKey('RS256', 'rsa-2'), next.pem, 'found once the interval has passed')
  t.equal(jwks.state.fetches, 2)

  // The old key is retired: still accepted until the set's maximum age, then refused.
  jwks.state.keys = [next.jwk]
  clock += 60_000
  t.equal(await keySet.getPublicKey('RS256', 'rsa-1'), first.pem, 'within the maximum age')
  clock += 600_000
  await t.rejects(keySet.getPublicKey('RS256', 'rsa-1'), /no key|kid/i, 'gone after the set is read again')
  t.equal(jwks.state.fetches, 3)
})

test('while the endpoint fails, the keys read last stay in use and retries keep to the interval', async (t) => {
  const jwks = await countingJwksServer(t)
  const key = rsaJwk('rsa-1')
  jwks.state.keys = [key.jwk]
  let clock = 0
  const keySet = createJwksKeySet({ url: jwks.url, minRefreshMs: 30_000, maxAgeMs: 600_000, now: () => clock })
  await keySet.getPublicKey('RS256', 'rsa-1')

  jwks.state.status = 500
  clock += 600_000
  t.equal(await keySet.getPublicKey('RS256', 'rsa-1'), key.pem, 'stale, but served')
  for (let i = 0; i < 100; i++) await keySet.getPublicKey('RS256', 'rsa-1')
  t.equal(jwks.state.fetches, 2, 'one failed attempt per interval, not one per request')
  await t.rejects(keySet.getPublicKey('ES256', 'rsa-1'), /not an ES256 key/, 'a key serves only its own algorithm')
})
