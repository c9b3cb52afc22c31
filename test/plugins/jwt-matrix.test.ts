import { test } from 'tap'
import { createServer, type Server } from 'node:http'
import { generateKeyPairSync, createHmac, createSign, randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { build, token, TEST_JWT_SECRET } from '../helper.ts'

// What the existing auth tests do not cover yet: issuer checks, every spelling of "none",
// algorithm confusion in both directions with both key kinds configured, missing claims,
// oversized and malformed tokens, and an unreachable JWKS. Every case must be a 401 in the
// common error shape (never a 5xx), and a token in the query string only counts on /ws/.

const USER = randomUUID()
const ISSUER = 'https://project.supabase.co/auth/v1'
const now = () => Math.floor(Date.now() / 1000)

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}

async function serveJwks (jwks: object): Promise<{ url: string, close: () => void }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(jwks))
  })
  const port = await listen(server)
  return { url: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`, close: () => server.close() }
}

function rs256 (privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'], header: object, payload: object): string {
  const signingInput = `${b64(header)}.${b64(payload)}`
  return `${signingInput}.${createSign('RSA-SHA256').update(signingInput).sign(privateKey).toString('base64url')}`
}

function hs256 (secret: string | Buffer, header: object, payload: object): string {
  const signingInput = `${b64(header)}.${b64(payload)}`
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`
}

test('JWT matrix with both an HS256 secret and a JWKS configured, issuer enforced', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwks = await serveJwks({
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' }
    ]
  })
  t.teardown(jwks.close)
  const app = await build(t, { config: { JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: jwks.url, JWT_ISSUER: ISSUER } })
  const me = async (jwt: string, url = '/api/v1/me') => await app.inject({ url, headers: { authorization: `Bearer ${jwt}` } })

  const good = { sub: USER, aud: 'authenticated', iss: ISSUER, exp: now() + 600, iat: now() }
  const rsaPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const publicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString()

  await t.test('well-formed tokens of each accepted kind pass', async (t) => {
    t.equal((await me(hs256(TEST_JWT_SECRET, { alg: 'HS256', typ: 'JWT' }, good))).statusCode, 200, 'HS256 with the secret')
    t.equal((await me(rs256(rsa.privateKey, { alg: 'RS256', typ: 'JWT', kid: 'rsa-1' }, good))).statusCode, 200, 'RS256 with a JWKS key')
  })

  const cases: Record<string, string> = {
    'no issuer': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, iss: undefined }),
    'another issuer': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, iss: 'https://evil.supabase.co/auth/v1' }),
    'another issuer on RS256': rs256(rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }, { ...good, iss: 'https://evil.example' }),
    'no audience': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, aud: undefined }),
    'audience list without ours': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, aud: ['anon', 'service'] }),
    'no exp': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, exp: undefined }),
    'no sub': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, sub: undefined }),
    'expired beyond the clock tolerance': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, exp: now() - 60 }),
    'not valid for another hour': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, nbf: now() + 3600 }),
    'exp as a string': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, exp: String(now() + 600) }),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`,
    'alg None': `${b64({ alg: 'None', typ: 'JWT' })}.${b64(good)}.`,
    'alg NONE with a signature': `${b64({ alg: 'NONE' })}.${b64(good)}.${createHmac('sha256', TEST_JWT_SECRET).update('x').digest('base64url')}`,
    'HS256 signed with the RSA public key (PEM)': hs256(publicPem, { alg: 'HS256', kid: 'rsa-1' }, good),
    'HS256 signed with the RSA public key (DER)': hs256(rsa.publicKey.export({ format: 'der', type: 'spki' }), { alg: 'HS256', kid: 'rsa-1' }, good),
    'HS384 with the secret (algorithm not allowed)': createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS384' })({ ...good }),
    'RS512 with a JWKS key (algorithm not allowed)': createSigner({ key: rsaPem, algorithm: 'RS512', kid: 'rsa-1' })({ ...good }),
    'RS256 header on the EC key id': rs256(rsa.privateKey, { alg: 'RS256', kid: 'ec-1' }, good),
    'ES256 header on the RSA key id': `${b64({ alg: 'ES256', kid: 'rsa-1' })}.${b64(good)}.${Buffer.alloc(64).toString('base64url')}`,
    'kid not in the JWKS': rs256(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { alg: 'RS256', kid: 'rsa-404' }, good),
    'RS256 without a kid': rs256(rsa.privateKey, { alg: 'RS256' }, good),
    'tampered payload (role raised to admin)': (() => {
      const [h, , s] = hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good).split('.')
      return `${h}.${b64({ ...good, app_metadata: { role: 'admin' } })}.${s}`
    })(),
    'tampered header (alg switched)': (() => {
      const [, p, s] = rs256(rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }, good).split('.')
      return `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${p}.${s}`
    })(),
    'signature stripped': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good).split('.').slice(0, 2).join('.') + '.',
    'two segments': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good).split('.').slice(0, 2).join('.'),
    'header is not JSON': `${Buffer.from('{alg:').toString('base64url')}.${b64(good)}.sig`,
    'payload is an array': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, [good]),
    'a 16 KB token': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, pad: 'x'.repeat(16_000), exp: now() - 60 }),
    'sub with SQL': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, sub: "' OR 1=1 --" })
  }
  for (const [name, jwt] of Object.entries(cases)) {
    await t.test(`401 for ${name}`, async (t) => {
      const res = await me(jwt)
      t.equal(res.statusCode, 401)
      t.match(res.json(), { statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', requestId: res.headers['x-request-id'] })
    })
  }

  await t.test('a token in the query string does not authenticate plain HTTP routes', async (t) => {
    const jwt = hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good)
    const res = await app.inject({ url: `/api/v1/me?token=${jwt}` })
    t.equal(res.statusCode, 401)
  })
})

test('with only a JWKS configured, HS256 tokens are refused whatever their key', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwks = await serveJwks({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' }] })
  t.teardown(jwks.close)
  const app = await build(t, { config: { JWT_SECRET: '', JWKS_URL: jwks.url } })
  const me = async (jwt: string) => (await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${jwt}` } })).statusCode
  const claims = { sub: USER, aud: 'authenticated', exp: now() + 600 }
  t.equal(await me(rs256(rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }, claims)), 200)
  t.equal(await me(token({ sub: USER })), 401, 'HS256 with the test secret')
  t.equal(await me(hs256(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString(), { alg: 'HS256', kid: 'rsa-1' }, claims)), 401, 'HS256 with the public key')
  t.equal(await me(hs256('', { alg: 'HS256' }, claims)), 401, 'HS256 with an empty secret')
})

test('with only an HS256 secret configured, asymmetric tokens are refused', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const app = await build(t)
  const res = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${rs256(rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }, { sub: USER, aud: 'authenticated', exp: now() + 600 })}` } })
  t.equal(res.statusCode, 401)
})

test('an unreachable JWKS makes asymmetric tokens fail closed, not 500', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer()
  const port = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
  const app = await build(t, { config: { JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json` } })
  const jwt = rs256(rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }, { sub: USER, aud: 'authenticated', exp: now() + 600 })
  const res = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${jwt}` } })
  t.ok(res.statusCode === 401 || res.statusCode === 503, `answered ${res.statusCode}`)
  t.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token({ sub: USER })}` } })).statusCode, 200, 'HS256 tokens still work')
})

test('the WebSocket path refuses the same tokens, closing with 4401 before any frame', async (t) => {
  const { WebSocket } = await import('ws')
  const { seedCompetition, seedParticipants, seedUsers } = await import('../routes/leaderboard/fixtures.ts')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwks = await serveJwks({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' }] })
  t.teardown(jwks.close)
  const app = await build(t, { config: { JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, LIFECYCLE_JOBS: false } })
  const base = (await app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws')
  const competitionId = await seedCompetition(app)
  const [user] = await seedUsers(app, 1)
  await seedParticipants(app, competitionId, [user!])

  const open = async (jwt: string): Promise<{ code: number, frames: string[] }> => await new Promise((resolve) => {
    const frames: string[] = []
    const socket = new WebSocket(`${base}/ws/leaderboard/${competitionId}?token=${encodeURIComponent(jwt)}`)
    const timer = setTimeout(() => { socket.terminate(); resolve({ code: 0, frames }) }, 5000)
    socket.on('message', (data) => {
      frames.push(String(data))
      clearTimeout(timer)
      socket.close()
    })
    socket.on('close', (code) => { clearTimeout(timer); resolve({ code, frames }) })
    socket.on('error', () => {})
  })

  const good = { sub: user, aud: 'authenticated', iss: ISSUER, exp: now() + 600 }
  const accepted = await open(hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good))
  t.match(accepted.frames[0], /"type":"snapshot"/, 'a valid token is admitted')

  const refused: Record<string, string> = {
    'alg none': `${b64({ alg: 'none' })}.${b64(good)}.`,
    expired: hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, exp: now() - 60 }),
    'not yet valid': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, nbf: now() + 3600 }),
    'wrong issuer': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, iss: 'https://evil.example' }),
    'wrong audience': hs256(TEST_JWT_SECRET, { alg: 'HS256' }, { ...good, aud: 'anon' }),
    'tampered payload': (() => {
      const [h, , s] = hs256(TEST_JWT_SECRET, { alg: 'HS256' }, good).split('.')
      return `${h}.${b64({ ...good, app_metadata: { role: 'admin' } })}.${s}`
    })(),
    'HS256 signed with the RSA public key': hs256(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString(), { alg: 'HS256', kid: 'rsa-1' }, good),
    'kid not in the JWKS': rs256(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { alg: 'RS256', kid: 'rsa-404' }, good),
    garbage: 'not-a-jwt'
  }
  for (const [name, jwt] of Object.entries(refused)) {
    const result = await open(jwt)
    t.same(result, { code: 4401, frames: [] }, `${name}: closed with 4401, no data`)
  }
})
