import { test } from 'tap'
import { createServer, type Server } from 'node:http'
import { generateKeyPairSync, randomUUID, createHmac } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { build, token, TEST_JWT_SECRET } from '../helper.ts'

const USER = randomUUID()

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

async function serveJwks (jwks: object): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/auth/v1/.well-known/jwks.json') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(jwks))
    } else {
      res.statusCode = 404
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return { url: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`, server }
}

test('HS256 tokens', async (t) => {
  const app = await build(t)
  const me = async (authorization?: string) => await app.inject({ url: '/api/v1/me', headers: authorization ? { authorization } : {} })

  await t.test('a valid token is accepted and typed', async (t) => {
    const res = await me(`Bearer ${token({ sub: USER })}`)
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: USER, role: 'user', isAdmin: false })
    const admin = await me(`Bearer ${token({ sub: USER, admin: true })}`)
    t.equal(admin.json().role, 'admin')
    t.equal(admin.json().isAdmin, true)
  })

  const now = Math.floor(Date.now() / 1000)
  const rejected: Record<string, string | undefined> = {
    'no token': undefined,
    'not a bearer scheme': `Basic ${Buffer.from('a:b').toString('base64')}`,
    garbage: 'Bearer not-a-jwt',
    expired: `Bearer ${createSigner({ key: TEST_JWT_SECRET })({ sub: USER, aud: 'authenticated', exp: now - 3600, iat: now - 7200 })}`,
    'not yet valid': `Bearer ${createSigner({ key: TEST_JWT_SECRET })({ sub: USER, aud: 'authenticated', exp: now + 7200, nbf: now + 3600 })}`,
    'wrong audience': `Bearer ${createSigner({ key: TEST_JWT_SECRET, expiresIn: 60_000 })({ sub: USER, aud: 'someone-else' })}`,
    'wrong key': `Bearer ${createSigner({ key: 'another-secret-another-secret-another', expiresIn: 60_000 })({ sub: USER, aud: 'authenticated' })}`,
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: USER, aud: 'authenticated', exp: now + 3600 })}.`,
    'subject is not a user id': `Bearer ${createSigner({ key: TEST_JWT_SECRET, expiresIn: 60_000 })({ sub: 'robert', aud: 'authenticated' })}`
  }
  for (const [name, header] of Object.entries(rejected)) {
    await t.test(`rejects ${name} with 401 in the error shape`, async (t) => {
      const res = await me(header)
      t.equal(res.statusCode, 401)
      const body = res.json()
      t.equal(body.statusCode, 401)
      t.equal(body.code, 'UNAUTHORIZED')
      t.equal(body.error, 'Unauthorized')
      t.type(body.message, 'string')
      t.equal(body.requestId, res.headers['x-request-id'])
    })
  }

  await t.test('rejects a tampered payload', async (t) => {
    const [header, , signature] = token({ sub: USER }).split('.')
    const forged = `${header}.${b64({ sub: USER, aud: 'authenticated', app_metadata: { role: 'admin' }, exp: now + 3600 })}.${signature}`
    const res = await me(`Bearer ${forged}`)
    t.equal(res.statusCode, 401)
    // And a re-signed one with a guessed key still fails.
    const resigned = `${header}.${b64({ sub: USER })}.${createHmac('sha256', 'guess').update('x').digest('base64url')}`
    t.equal((await me(`Bearer ${resigned}`)).statusCode, 401)
  })

  await t.test('a verified token, remembered for later requests, stops being accepted at its expiry', async (t) => {
    // Expired 3.5 s ago: still inside the 5 s clock tolerance for another 1.5 s.
    const nearlyExpired = Date.now() / 1000 - 3.5
    const header = `Bearer ${createSigner({ key: TEST_JWT_SECRET })({ sub: USER, aud: 'authenticated', exp: Math.floor(nearlyExpired) })}`
    t.equal((await me(header)).statusCode, 200, 'accepted within the tolerance')
    t.equal((await me(header)).statusCode, 200, 'and again from the verified-token cache')
    await new Promise((resolve) => setTimeout(resolve, 2500))
    t.equal((await me(header)).statusCode, 401, 'rejected once past exp and the tolerance')
  })
})

test('JWKS-signed tokens (RS256 and ES256) with key rotation by kid', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwks = {
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' }
    ]
  }
  const { url, server } = await serveJwks(jwks)
  t.teardown(() => server.close())
  const app = await build(t, { config: { JWKS_URL: url, JWT_SECRET: '' } })
  const me = async (jwt: string) => await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${jwt}` } })
  const claims = { sub: USER, aud: 'authenticated' }

  const rs = createSigner({ key: rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: 'RS256', kid: 'rsa-1', expiresIn: 60_000 })
  const es = createSigner({ key: ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: 'ES256', kid: 'ec-1', expiresIn: 60_000 })
  t.equal((await me(rs(claims))).statusCode, 200, 'RS256 accepted')
  t.equal((await me(es(claims))).statusCode, 200, 'ES256 accepted')

  const unknownKid = createSigner({ key: other.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: 'RS256', kid: 'rsa-9', expiresIn: 60_000 })
  t.equal((await me(unknownKid(claims))).statusCode, 401, 'a kid not in the JWKS is rejected')
  const wrongKey = createSigner({ key: other.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: 'RS256', kid: 'rsa-1', expiresIn: 60_000 })
  t.equal((await me(wrongKey(claims))).statusCode, 401, 'a token signed by another key is rejected')

  // HS/RS confusion: an HS256 token "signed" with the public key must not pass.
  const publicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString()
  const [h, p] = [b64({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' }), b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 60 })]
  const confused = `${h}.${p}.${createHmac('sha256', publicPem).update(`${h}.${p}`).digest('base64url')}`
  t.equal((await me(confused)).statusCode, 401, 'HS256 signed with the public key is rejected')
})
