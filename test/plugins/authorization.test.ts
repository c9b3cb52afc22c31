import { test, type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import config, { loadConfig } from '../../plugins/config.ts'
import errors from '../../plugins/errors.ts'
import auth from '../../plugins/auth.ts'
import authorization from '../../plugins/authorization.ts'
import { serverOptions } from '../../lib/server-options.ts'
import { bearer, TEST_JWT_SECRET } from '../helper.ts'

// The authorisation vocabulary on a small app: the real auth and errors plugins, stand-ins for
// the stores auth depends on (no refusal counting, no users rows), and one route per factory.

const SELF = randomUUID()
const OTHER = randomUUID()
const UserIdParams = Type.Object({ userId: Type.String({ format: 'uuid' }) })

async function buildSmallApp (t: Test): Promise<FastifyInstance> {
  const settings = loadConfig({ LOG_LEVEL: 'silent', JWT_SECRET: TEST_JWT_SECRET })
  const app = Fastify(serverOptions(settings))
  await app.register(config, { config: settings })
  await app.register(errors)
  await app.register(fp(async (f) => { f.decorate('limitFailedAuth', async () => {}) }, { name: 'rate-limit' }))
  await app.register(fp(async (f) => { f.decorate('provisionUser', async () => {}) }, { name: 'user-provisioning' }))
  await app.register(auth)
  await app.register(authorization)

  await app.register(async function routes (f) {
    f.addHook('onRequest', f.authenticate)
    const ok = async () => ({ ok: true })
    f.get('/admin', { preHandler: f.authorize.admin() }, ok)
    f.get('/admin-with-reason', { preHandler: f.authorize.admin('Only admins may open the vault') }, ok)
    f.get('/users/:userId', { schema: { params: UserIdParams }, preHandler: f.authorize.selfOrAdmin() }, ok)
    // The same rule on request: refused before the params are validated.
    f.get('/early/:userId', { schema: { params: UserIdParams }, onRequest: f.authorize.selfOrAdmin() }, ok)
    f.post('/act', {
      schema: { body: Type.Object({ userId: Type.Optional(Type.String({ format: 'uuid' })) }) },
      preHandler: f.authorize.selfOrAdmin()
    }, async (request) => ({ actsFor: f.authorize.targetUserId(request) }))
    f.get('/view/:userId', async (request) => ({
      full: f.authorize.actsForSelfOrAdmin(request),
      target: f.authorize.targetUserId(request)
    }))
  })
  t.teardown(async () => await app.close())
  await app.ready()
  return app
}

const callers = {
  anonymous: {},
  self: bearer({ sub: SELF }),
  other: bearer({ sub: OTHER }),
  admin: bearer({ sub: randomUUID(), admin: true }),
  service: bearer({ sub: randomUUID(), service: true })
}
type Caller = keyof typeof callers

test('the authorisation factories', async (t) => {
  const app = await buildSmallApp(t)
  const call = async (caller: Caller, url: string, payload?: object) =>
    await app.inject({ method: payload ? 'POST' : 'GET', url, headers: callers[caller], ...(payload ? { payload } : {}) })

  // Every refusal is in the common error shape.
  async function refused (t: Test, caller: Caller, url: string, status: 401 | 403, payload?: object): Promise<string> {
    const res = await call(caller, url, payload)
    t.equal(res.statusCode, status, `${caller} ${url}: ${status}`)
    const body = res.json()
    t.match(body, { statusCode: status, code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', error: String, message: String, requestId: String })
    return body.message
  }
  async function allowed (t: Test, caller: Caller, url: string, payload?: object): Promise<Record<string, unknown>> {
    const res = await call(caller, url, payload)
    t.equal(res.statusCode, 200, `${caller} ${url}: allowed`)
    return res.json()
  }

  await t.test('admin(): admins and trusted services only', async (t) => {
    await refused(t, 'anonymous', '/admin', 401)
    t.equal(await refused(t, 'self', '/admin', 403), 'Only admins may do this')
    await allowed(t, 'admin', '/admin')
    await allowed(t, 'service', '/admin')
    t.equal(await refused(t, 'self', '/admin-with-reason', 403), 'Only admins may open the vault', 'a route may name its reason')
  })

  await t.test('selfOrAdmin() on the path :userId', async (t) => {
    await refused(t, 'anonymous', `/users/${SELF}`, 401)
    t.equal(await refused(t, 'other', `/users/${SELF}`, 403), 'You may only act on your own account')
    await allowed(t, 'self', `/users/${SELF}`)
    await allowed(t, 'self', `/users/${SELF.toUpperCase()}`)
    await allowed(t, 'admin', `/users/${SELF}`)
    await allowed(t, 'service', `/users/${SELF}`)
  })

  await t.test('the hook phase decides whether validation or authorisation answers first', async (t) => {
    t.equal((await call('other', '/users/not-a-uuid')).statusCode, 400, 'preHandler: validated first')
    await refused(t, 'other', '/early/not-a-uuid', 403)
    await refused(t, 'anonymous', '/early/not-a-uuid', 401)
  })

  await t.test('selfOrAdmin() on body.userId, else the caller', async (t) => {
    t.same(await allowed(t, 'self', '/act', {}), { actsFor: SELF }, 'no userId: the caller')
    t.same(await allowed(t, 'self', '/act', { userId: SELF }), { actsFor: SELF })
    await refused(t, 'other', '/act', 403, { userId: SELF })
    t.same(await allowed(t, 'admin', '/act', { userId: SELF }), { actsFor: SELF }, 'an admin acts for the named user')
    await refused(t, 'anonymous', '/act', 401, {})
  })

  await t.test('actsForSelfOrAdmin() and targetUserId() in a handler', async (t) => {
    t.same(await allowed(t, 'self', `/view/${SELF.toUpperCase()}`), { full: true, target: SELF })
    t.same(await allowed(t, 'admin', `/view/${SELF}`), { full: true, target: SELF })
    t.same(await allowed(t, 'other', `/view/${SELF}`), { full: false, target: SELF })
    await refused(t, 'anonymous', `/view/${SELF}`, 401)
  })
})
