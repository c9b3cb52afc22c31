import { test } from 'tap'
import { countingJwksServer } from '../jwks-server.ts'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createSigner } from 'fast-jwt'
import { build, token } from '../helper.ts'

// Unauthenticated traffic must not be amplified into outbound requests to the key set, and a
// flood of bad tokens spends the sender's address budget like any other anonymous traffic.

const USER = randomUUID()

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function rsaKey (kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    sign: createSigner({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: 'RS256', kid, expiresIn: 600_000 })
  }
}

// A token naming a kid nobody published (its signature is never reached).
function randomKidToken (): string {
  return `${b64({ alg: 'RS256', typ: 'JWT', kid: randomUUID() })}.${b64({ sub: USER, aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 })}.c2ln`
}

test('1,000 requests with made-up kids cause a bounded number of JWKS fetches', async (t) => {
  const jwks = await countingJwksServer(t)
  const current = rsaKey('rsa-1')
  jwks.state.keys = [current.jwk]
  const REFRESH_MS = 400
  const app = await build(t, { config: { JWKS_URL: jwks.url, JWKS_REFRESH_MIN_MS: REFRESH_MS, RATE_LIMIT_MAX: 100_000 } })
  const me = async (jwt: string) => (await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${jwt}` } })).statusCode

  t.equal(await me(current.sign({ sub: USER, aud: 'authenticated' })), 200, 'a published key works')
  const started = Date.now()
  const statuses = await Promise.all(Array.from({ length: 1000 }, async () => await me(randomKidToken())))
  const elapsed = Date.now() - started
  t.ok(statuses.every((s) => s === 401), 'every made-up kid is refused')
  // At most one fetch per interval, plus the first.
  const bound = 1 + Math.ceil(elapsed / REFRESH_MS) + 1
  t.ok(jwks.state.fetches <= bound, `${jwks.state.fetches} fetches for 1,001 requests in ${elapsed} ms (bound ${bound})`)

  // A key published now is found once the interval since the last fetch has passed.
  const rotated = rsaKey('rsa-2')
  jwks.state.keys = [current.jwk, rotated.jwk]
  await sleep(REFRESH_MS)
  const before = jwks.state.fetches
  t.equal(await me(rotated.sign({ sub: USER, aud: 'authenticated' })), 200, 'the new key is picked up')
  t.equal(jwks.state.fetches, before + 1, 'with one fetch')
  t.equal(await me(current.sign({ sub: USER, aud: 'authenticated' })), 200, 'the old key still works while published')
})

test('failed authentications spend the caller\'s address budget: 429 with Retry-After', async (t) => {
  const MAX = 20
  const app = await build(t, { config: { RATE_LIMIT_MAX: MAX, RATE_LIMIT_WINDOW_MS: 60_000 } })
  const bad = `${token({ sub: USER }).slice(0, -4)}AAAA`
  const statuses: number[] = []
  for (let i = 0; i < MAX + 5; i++) {
    const res = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${bad}` } })
    statuses.push(res.statusCode)
    if (res.statusCode === 429) {
      t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when')
      t.match(res.json(), { statusCode: 429, code: 'RATE_LIMITED', requestId: String })
    }
  }
  t.same(statuses.slice(0, MAX), Array(MAX).fill(401), 'refused as unauthenticated within the budget')
  t.same(statuses.slice(MAX), Array(5).fill(429), 'then rate limited')
  const missing = await app.inject({ url: '/api/v1/competitions' })
  t.equal(missing.statusCode, 429, 'no token at all counts too (same address, same group)')

  // Another address and a signed-in caller keep their own budgets.
  const other = await app.inject({ url: '/api/v1/me', remoteAddress: '10.0.0.2', headers: { authorization: `Bearer ${bad}` } })
  t.equal(other.statusCode, 401, 'another address is not affected')
  t.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token({ sub: USER })}` } })).statusCode, 200,
    'a valid token from the same address is counted per user')
})
