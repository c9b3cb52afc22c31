import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { buildWithRoutes, type RouteInfo } from '../route-table.ts'
import { validArbitrary } from '../schema-arbitrary.ts'
import { validatorCompilers } from '../../lib/validators.ts'
import { createCompetition, credit, hoursFromNow, signIn, type Person } from '../routes/competitions/fixtures.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'
import { inlineSchemaRefs } from '../openapi-refs.ts'

// Bodies are refused, never converted: for every route with a JSON body, a value of the wrong
// type in any property and a property the schema does not know each answer 400 naming the
// field, on an otherwise valid body. Query strings and path parameters still coerce.

type Schema = Record<string, any>
const UNKNOWN = 'unknownField'

function isObject (value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function variants (schema: Schema): Schema[] {
  return (schema.oneOf ?? schema.anyOf ?? []) as Schema[]
}

// The JSON types a schema accepts (integer counts as number for this purpose).
function kinds (schema: Schema): Set<string> {
  if (schema.const !== undefined) return new Set([typeof schema.const])
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map((v: unknown) => typeof v))
  if (variants(schema).length > 0 && schema.type === undefined) return new Set(variants(schema).flatMap((v) => [...kinds(v)]))
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? 'object']
  return new Set(types.map((type: string) => type === 'integer' ? 'number' : type))
}

function kindOf (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

// A value only a coercing or lenient validator would accept: the string "100" for a number,
// a number for a string, "true" for a boolean, 0 for null (Ajv coerces it to null), and an
// array's item without the array around it.
function wrongValue (schema: Schema): unknown {
  const accepted = kinds(schema)
  const itemSchema = isObject(schema.items) ? schema.items : undefined
  const traps: unknown[] = ['100', 100, 'true', 0, itemSchema ? validValue(itemSchema) : 'x', 'x', 100]
  if (accepted.has('number')) traps.unshift('100')
  if (accepted.has('boolean')) traps.unshift('true')
  if (accepted.has('null')) traps.unshift(0)
  return traps.find((value) => !accepted.has(kindOf(value)))
}

// A deterministic value the schema accepts: the smallest one that satisfies the bounds,
// every property filled in (so nested objects exist to put an unknown property into).
function validValue (schema: Schema): unknown {
  if (schema.const !== undefined) return schema.const
  if (Array.isArray(schema.enum)) return schema.enum[0]
  if (variants(schema).length > 0) return validValue(variants(schema)[0] as Schema)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type ?? (isObject(schema.properties) ? 'object' : undefined)
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries((schema.properties ?? {}) as Record<string, Schema>).map(([key, sub]) => [key, validValue(sub)]))
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 0) }, () => validValue(schema.items as Schema))
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1)
    case 'boolean':
      return true
    case 'null':
      return null
    case 'string':
      if (schema.format === 'date-time') return hoursFromNow(1)
      if (schema.format === 'date') return hoursFromNow(0).slice(0, 10)
      if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0]
      if (schema.pattern !== undefined) return fc.sample(validArbitrary(schema), { numRuns: 1, seed: 1 })[0]
      return 'x'.repeat(Math.max(1, schema.minLength ?? 0))
    default:
      return null
  }
}

// The object form of a body (a union with null, as the optional join body is, has one).
function objectSchema (body: Schema): Schema {
  return isObject(body.properties) ? body : variants(body).find((v) => isObject(v.properties)) as Schema
}

// Where an unknown property can go inside a property's value: the value itself when it is an
// object, or its first item when it is an array of objects. Returns the value and the path.
function nestedWithUnknown (schema: Schema): { value: unknown, path: string } | undefined {
  const object = isObject(schema.properties) ? schema : variants(schema).find((v) => isObject(v.properties))
  if (object) return { value: { ...(validValue(object) as Schema), [UNKNOWN]: 1 }, path: UNKNOWN }
  if (isObject(schema.items)) {
    const item = nestedWithUnknown(schema.items)
    if (item) return { value: [item.value], path: `0.${item.path}` }
  }
  return undefined
}

// Every object with properties a body schema describes, with where it is (a union's wrapper
// has none of its own: its variants are the objects).
function * objectsIn (schema: unknown, path: string): Generator<[string, Schema]> {
  if (!isObject(schema)) return
  if (isObject(schema.properties)) yield [path, schema]
  for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) yield * objectsIn(sub, `${path}.${key}`)
  if (isObject(schema.items)) yield * objectsIn(schema.items, `${path}[]`)
  for (const v of variants(schema)) yield * objectsIn(v, path)
}

// The application's own body validator, to check the body each case starts from.
function validateBody (schema: Schema, body: unknown): boolean {
  const build = validatorCompilers().compilersFactory?.buildValidator as unknown as (external: object) => (route: object) => (data: unknown) => boolean
  return build({})({ schema, method: 'POST', url: '/', httpPart: 'body' })(structuredClone(body))
}

function jsonBodyRoutes (routes: RouteInfo[]): RouteInfo[] {
  return routes.filter((r) => {
    const body = (r.schema as { body?: Schema } | undefined)?.body
    return isObject(body) && body.content === undefined
  })
}

async function setUp (t: Parameters<typeof buildWithRoutes>[0]): Promise<{ app: FastifyInstance, routes: RouteInfo[], admin: Person, user: Person, competitionId: string }> {
  const { app, routes } = await buildWithRoutes(t, { config: { RATE_LIMIT_MAX: 1_000_000, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0, ...(await fakeStripeConfig(t)).config } })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const competition = await createCompetition(app, admin)
  return { app, routes, admin, user, competitionId: competition.id }
}

test('every JSON body refuses a wrong-typed value and an unknown property, naming the field', async (t) => {
  const { app, routes, admin, user, competitionId } = await setUp(t)
  const ids: Record<string, string> = { userId: user.id, id: competitionId, competitionId }
  const targets = jsonBodyRoutes(routes)
  t.ok(targets.length >= 9, `${targets.length} routes with a JSON body: ${targets.map((r) => r.key).join(', ')}`)

  for (const route of targets) {
    await t.test(route.key, async (t) => {
      const body = objectSchema((route.schema as { body: Schema }).body)
      // Admins may act on anyone, so every route's own rules let the request reach validation;
      // a flag id that does not exist is fine, validation comes first.
      const url = route.url.replace(/:(\w+)/g, (_m, name: string) => route.url.includes('/flags/') ? '1' : ids[name] ?? randomUUID())
      const send = async (payload: unknown) => await app.inject({
        method: route.method as 'POST',
        url,
        headers: { ...admin.headers, 'idempotency-key': randomUUID() },
        payload: payload as Record<string, unknown>
      })
      const required = new Set<string>(body.required ?? [])
      const properties = Object.entries((body.properties ?? {}) as Record<string, Schema>)
      // The required properties, and optional ones while the schema asks for more.
      const filled = properties.filter(([key], i) => required.has(key) || i < (body.minProperties ?? 0))
      const base = Object.fromEntries(filled.map(([key, sub]) => [key, validValue(sub)]))
      t.ok(validateBody((route.schema as { body: Schema }).body, base), `the body every case starts from is valid: ${JSON.stringify(base)}`)

      for (const [key, sub] of properties) {
        const wrong = wrongValue(sub)
        const res = await send({ ...base, [key]: wrong })
        t.equal(res.statusCode, 400, `${key}: ${JSON.stringify(wrong)} is refused`)
        t.match(res.json(), { code: 'VALIDATION_ERROR', message: new RegExp(`^body\\.${key}\\b`) }, `${key}: the message names it (${res.json().message})`)

        const nested = nestedWithUnknown(sub)
        if (nested) {
          const inner = await send({ ...base, [key]: nested.value })
          t.equal(inner.statusCode, 400, `${key}: an unknown property inside is refused`)
          t.equal(inner.json().message, `body.${key}.${nested.path} is not a known property`)
        }
      }

      const unknown = await send({ ...base, [UNKNOWN]: 'x' })
      t.equal(unknown.statusCode, 400, 'an unknown property is refused')
      t.match(unknown.json(), { code: 'VALIDATION_ERROR', message: `body.${UNKNOWN} is not a known property`, details: [{ field: `body.${UNKNOWN}` }] })
    })
  }
})

test('every body object is closed, in the schemas and in the OpenAPI document', async (t) => {
  const { app, routes } = await buildWithRoutes(t, { config: (await fakeStripeConfig(t)).config })
  for (const route of jsonBodyRoutes(routes)) {
    for (const [path, schema] of objectsIn((route.schema as { body: Schema }).body, 'body')) {
      t.equal(schema.additionalProperties, false, `${route.key} ${path} refuses unknown properties`)
    }
  }
  const document = inlineSchemaRefs(app.swagger()) as unknown as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>> }
  let documented = 0
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
        for (const [where, schema] of objectsIn(media.schema, 'body')) {
          documented++
          t.equal(schema.additionalProperties, false, `${method.toUpperCase()} ${path} ${type} ${where} is documented as closed`)
        }
      }
    }
  }
  t.ok(documented >= 10, `${documented} body objects documented`)
})

test('an admin credit of "100" is refused and credits nothing', async (t) => {
  const { app, admin, user } = await setUp(t)
  await credit(app, admin, user.id, 500)
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/admin/users/${user.id}/credit`,
    headers: { ...admin.headers, 'idempotency-key': randomUUID() },
    payload: { amount: '100', currency: 'USD' }
  })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', message: 'body.amount must be integer', details: [{ field: 'body.amount' }] })
  const transactions = await app.inject({ url: `/api/v1/users/${user.id}/transactions`, headers: user.headers })
  t.same(transactions.json().items.map((e: { amount: number }) => e.amount), [500], 'only the first credit is in the wallet')
})

test('a profile update with an unknown field is refused and changes nothing', async (t) => {
  const { app, user } = await setUp(t)
  const url = `/api/v1/users/${user.id}/profile`
  const before = (await app.inject({ url, headers: user.headers })).json()
  const res = await app.inject({ method: 'PUT', url, headers: user.headers, payload: { displayName: 'Ada', nickname: 'ada' } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'VALIDATION_ERROR', message: 'body.nickname is not a known property' })
  t.same((await app.inject({ url, headers: user.headers })).json(), before, 'the profile is unchanged')

  const typed = await app.inject({ method: 'PUT', url, headers: user.headers, payload: { displayName: 42 } })
  t.match(typed.json(), { statusCode: 400, message: 'body.displayName must be string' }, 'a number is not a name')
  t.same((await app.inject({ url, headers: user.headers })).json(), before, 'still unchanged')
})

test('maxParticipants 0 is refused, not stored as "no limit"', async (t) => {
  const { app, admin } = await setUp(t)
  const paid = { name: 'Paid', metric: 'steps', startsAt: hoursFromNow(1), endsAt: hoursFromNow(25), entryFee: 500, currency: 'USD' }
  const listed = async (): Promise<number> => (await app.inject({ url: '/api/v1/competitions?limit=100', headers: admin.headers })).json().items.length
  const count = await listed()

  for (const maxParticipants of [0, -1, 1.5, '10', false]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: admin.headers, payload: { ...paid, maxParticipants } })
    t.equal(res.statusCode, 400, `maxParticipants ${JSON.stringify(maxParticipants)} is refused`)
    t.match(res.json().message, /^body\.maxParticipants /)
  }
  t.equal(await listed(), count, 'no competition was created')

  const unlimited = await createCompetition(app, admin, { ...paid, maxParticipants: null })
  t.equal(unlimited.maxParticipants, null, 'null still means no limit')
  const limited = await createCompetition(app, admin, { ...paid, maxParticipants: 1 })
  t.equal(limited.maxParticipants, 1)
})

test('a prize split refusal names the fault in the variant the client chose', async (t) => {
  const { app, admin } = await setUp(t)
  const base = { name: 'Split', metric: 'steps', startsAt: hoursFromNow(1), endsAt: hoursFromNow(25) }
  const cases: Array<[unknown, string]> = [
    [{ type: 'fixed', amounts: [100], places: [100] }, 'body.prizeSplit.places is not a known property'],
    [{ type: 'fixed', amounts: ['100'] }, 'body.prizeSplit.amounts.0 must be integer'],
    [{ type: 'percent', places: 100 }, 'body.prizeSplit.places must be array'],
    [{ type: 'share', places: [100] }, 'body.prizeSplit.type is not one of the allowed values'],
    [{ places: [100] }, 'body.prizeSplit.type must have required property \'type\'']
  ]
  for (const [prizeSplit, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: admin.headers, payload: { ...base, prizeSplit } })
    t.equal(res.statusCode, 400)
    t.equal(res.json().message, message)
  }
})

test('query strings and path parameters still coerce from strings', async (t) => {
  const { app, admin, competitionId } = await setUp(t)
  const res = await app.inject({ url: `/api/v1/leaderboard/${competitionId}?limit=5&k=2`, headers: admin.headers })
  t.equal(res.statusCode, 200, res.body.slice(0, 200))
  const flags = await app.inject({ method: 'POST', url: '/api/v1/admin/flags/123456/clear', headers: admin.headers, payload: {} })
  t.equal(flags.statusCode, 404, 'the flag id "123456" is read as a number')
})
