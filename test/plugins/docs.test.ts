import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import app from '../../app.ts'
import { API_TAGS } from '../../plugins/docs.ts'
import { SERVER_GIVEN_PARAMETERS } from '../../lib/openapi-examples.ts'
import { serverOptions } from '../../lib/server-options.ts'
import { ERROR_CODES_BY_STATUS } from '../../lib/error-codes.ts'
import { bearer, testConfig } from '../helper.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'

type Obj = Record<string, any>
const METHODS = ['get', 'put', 'post', 'patch', 'delete']
const VALIDATED = 299

// The app with one extra root hook that answers right after validation, so every documented
// operation can be called with its examples without running a handler (no writes, no calls to
// fitness providers).
async function buildStoppingAfterValidation (test: Parameters<typeof testConfig>[0]): Promise<FastifyInstance> {
  const config = await testConfig(test, { config: { PUBLIC_URL: '', RATE_LIMIT_MAX: 100000, MAX_EVENT_LOOP_DELAY_MS: 0, ...(await fakeStripeConfig(test)).config } })
  const fastify = Fastify(serverOptions(config))
  // Marked before validation: a route's header schema may strip headers it does not declare.
  const examples = new WeakSet<object>()
  fastify.addHook('onRequest', async function markExample (request) {
    if (request.headers['x-docs-example'] === '1') examples.add(request)
  })
  fastify.addHook('preHandler', async function stopAfterValidation (request, reply) {
    if (examples.has(request)) return await reply.code(VALIDATED).send()
  })
  await fastify.register(fp(app), { config })
  test.teardown(async () => await fastify.close())
  await fastify.ready()
  return fastify
}

function operations (document: Obj): Array<{ method: string, path: string, op: Obj }> {
  return Object.entries(document.paths as Obj).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((method) => ({ method, path, op: item[method] as Obj })))
}

t.test('the OpenAPI document', async (t) => {
  const fastify = await buildStoppingAfterValidation(t)
  const document = fastify.swagger() as Obj
  const ops = operations(document)
  const tags = new Set(API_TAGS.map((tag) => tag.name))
  t.ok(ops.length > 0)

  t.test('bearer authorisation is declared once and used by default', async (t) => {
    t.match(document.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    t.same(document.security, [{ bearerAuth: [] }])
  })

  t.test('every operation has a domain tag, a summary and described responses with examples', async (t) => {
    for (const { method, path, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`
      t.ok(op.tags?.length > 0 && op.tags.every((tag: string) => tags.has(tag)), `${name}: known tags (${op.tags})`)
      t.ok(typeof op.summary === 'string' && op.summary.length > 0, `${name}: summary`)
      for (const [status, response] of Object.entries(op.responses as Obj)) {
        t.not(response.description, 'Default Response', `${name} ${status}: described`)
        const json = response.content?.['application/json']
        if (json) t.ok(json.example !== undefined, `${name} ${status}: example`)
      }
      for (const parameter of op.parameters ?? []) {
        if (SERVER_GIVEN_PARAMETERS.has(parameter.name)) continue
        t.ok(parameter.example !== undefined, `${name}: example for ${parameter.in} ${parameter.name}`)
      }
      for (const [type, media] of Object.entries((op.requestBody?.content ?? {}) as Obj)) {
        if (type === 'application/json') t.ok(media.example !== undefined, `${name}: request body example`)
      }
    }
  })

  t.test('parameters with a server default are optional for callers', async (t) => {
    for (const { method, path, op } of ops) {
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path' && p.schema?.default !== undefined) t.not(p.required, true, `${method.toUpperCase()} ${path}: ${p.name}`)
      }
    }
  })

  t.test('error responses use the shared Error shape; secured operations document 401', async (t) => {
    t.match(document.components.schemas.Error, { type: 'object', required: ['statusCode', 'code', 'error', 'message', 'requestId'] })
    for (const { method, path, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`
      const secured = op.security === undefined || op.security.length > 0
      if (secured) t.ok(op.responses['401'], `${name}: 401 documented`)
      for (const [status, response] of Object.entries(op.responses as Obj)) {
        if (Number(status) < 400) continue
        const json = response.content['application/json']
        t.ok(json.example !== undefined, `${name} ${status}: example`)
        // A few routes answer an error status with a body of their own (readiness: 503).
        const component = /^#\/components\/schemas\/(\w+Error)$/.exec(json.schema.$ref ?? '')?.[1]
        if (component === undefined) continue
        t.equal(json.example.statusCode, Number(status), `${name} ${status}: example has the status`)
        const codes = document.components.schemas[component].allOf?.[1]?.properties?.code?.enum as string[] | undefined
        t.same(codes, ERROR_CODES_BY_STATUS.get(Number(status)), `${name} ${status}: ${component} lists the status' codes`)
        t.ok(codes?.includes(json.example.code), `${name} ${status}: the example's code is one of them`)
      }
      t.ok(op.responses['500'] && op.responses['503'], `${name}: 500 and 503 documented`)
    }
  })

  t.test('every operation has its own operationId', async (t) => {
    const ids = ops.map(({ op }) => op.operationId as unknown)
    t.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), 'camelCase names')
    t.equal(new Set(ids).size, ids.length, 'no two alike')
  })

  // A shape used in two places is one named component, so generated clients get one type.
  t.test('no object schema appears twice inline: reused shapes are named components', async (t) => {
    const seen = new Map<string, string>()
    const visit = (schema: unknown, where: string): void => {
      if (typeof schema !== 'object' || schema === null) return
      if (Array.isArray(schema)) return schema.forEach((item) => visit(item, where))
      const s = schema as Obj
      if (s.type === 'object' && s.properties !== undefined && Object.keys(s.properties).length > 0) {
        const shape = JSON.stringify(s, (key, value) => key === 'example' || key === 'examples' ? undefined : value)
        const first = seen.get(shape)
        if (first !== undefined) t.fail(`the shape {${Object.keys(s.properties).join(', ')}} appears in ${first} and ${where}: give it a title`)
        seen.set(shape, where)
      }
      for (const [key, value] of Object.entries(s)) if (key !== 'example' && key !== 'examples') visit(value, where)
    }
    for (const { method, path, op } of ops) visit(op, `${method.toUpperCase()} ${path}`)
    for (const [name, item] of Object.entries((document.webhooks ?? {}) as Obj)) visit(item, `webhook ${name}`)
    for (const [name, component] of Object.entries(document.components.schemas as Obj)) visit(component, `component ${name}`)
    t.ok(Object.keys(document.components.schemas).length > 50, 'the document names its shapes')
    for (const name of ['Competition', 'CompetitionPage', 'LeaderboardEntry', 'Profile', 'Withdrawal', 'ConflictError']) {
      t.ok(document.components.schemas[name], `${name} is a component`)
    }
  })

  // What Swagger UI pre-fills must pass the route's own validation.
  t.test('every JSON example passes the route validation', async (t) => {
    const admin = bearer({ sub: randomUUID(), admin: true })
    for (const { method, path, op } of ops) {
      const body = op.requestBody?.content?.['application/json']
      if (op.requestBody && body === undefined) continue // multipart uploads have no JSON example
      const headers: Record<string, string> = { ...admin, 'x-docs-example': '1' }
      const query: Record<string, string> = {}
      let url = path
      for (const p of op.parameters ?? []) {
        if (p.example === undefined) continue
        const value = Array.isArray(p.example) ? p.example.join(',') : String(p.example)
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(value))
        if (p.in === 'query') query[p.name] = value
        if (p.in === 'header') headers[p.name] = value
      }
      const res = await fastify.inject({ method: method.toUpperCase() as 'GET', url, query, headers, ...(body ? { payload: body.example } : {}) })
      t.equal(res.statusCode, VALIDATED, `${method.toUpperCase()} ${path}: ${res.statusCode === VALIDATED ? 'accepted' : res.body}`)
    }
  })
})

t.test('Swagger UI never asks a third-party validator about the document', async (t) => {
  const fastify = await buildStoppingAfterValidation(t)
  const res = await fastify.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(res.statusCode, 200)
  t.match(res.body, /"validatorUrl":\s*null/)
})
