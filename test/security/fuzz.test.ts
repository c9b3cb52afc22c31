import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { bearer } from '../helper.ts'
import { buildWithRoutes } from '../route-table.ts'
import { hostileString, hostileValue, inputArbitrary, validArbitrary } from '../schema-arbitrary.ts'
import { createCompetition, signIn } from '../routes/competitions/fixtures.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'

// Property-based fuzzing of every route's params, query, headers and body, from its schema
// and beyond it: wrong types, huge strings, deep objects, unicode, SQL and script payloads.
// Whatever comes in, the answer is never a 5xx, and errors keep the common shape.
// Runs are bounded (NUM_RUNS per route, no shrinking) to keep the file well under a minute.

const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 50)
// A failure prints its seed; FUZZ_SEED=<seed> replays the same inputs.
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
// Static files and the docs take no input worth fuzzing here; the WebSocket has its own tests.
const SKIP = /^(GET|HEAD) \/(docs|live\/assets|files)\b|^OPTIONS \*$|^GET \/ws\//

type Obj = Record<string, unknown>

function errorShapeProblem (res: LightMyRequestResponse): string | undefined {
  if (res.statusCode >= 500) return `server error ${res.statusCode}: ${res.body.slice(0, 300)}`
  if (res.statusCode < 400 || !String(res.headers['content-type']).startsWith('application/json')) return undefined
  const body = res.json() as Obj
  for (const key of ['statusCode', 'code', 'error', 'message', 'requestId']) {
    if (!(key in body)) return `error body without ${key}: ${res.body.slice(0, 300)}`
  }
  if (body.statusCode !== res.statusCode) return `statusCode ${String(body.statusCode)} in a ${res.statusCode} response`
  return undefined
}

// JSON text for anything but a string: String() of an array calls its items' toString, and a
// generated object may carry a key named toString whose value is not a function.
function queryText (value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function toQuery (value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value === undefined ? '' : `?q=${encodeURIComponent(queryText(value))}`
  const params = new URLSearchParams()
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue
    for (const item of Array.isArray(v) ? v : [v]) params.append(key, queryText(item))
  }
  const s = params.toString()
  return s ? `?${s}` : ''
}

// Header values must be visible ASCII on the wire; anything else is the client's problem.
function headerSafe (value: unknown): string | undefined {
  if (value === undefined) return undefined
  const s = typeof value === 'string' ? value : JSON.stringify(value)
  return /^[\x20-\x7e]{0,8000}$/.test(s ?? '') ? s : undefined
}

test('fuzzing every route never yields a 5xx', async (t) => {
  // A Google Fit stand-in that refuses every token, so provider pulls stay on this machine.
  const google = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }))
  })
  await new Promise<void>((resolve) => google.listen(0, '127.0.0.1', resolve))
  t.teardown(() => google.close())
  const googlePort = (google.address() as { port: number }).port

  const { app, routes } = await buildWithRoutes(t, {
    config: {
      RATE_LIMIT_MAX: 1_000_000,
      LIFECYCLE_JOBS: false,
      // Load shedding (503 OVERLOADED on a busy machine) is not what this file is about.
      MAX_EVENT_LOOP_DELAY_MS: 0,
      GOOGLE_FIT_BASE_URL: `http://127.0.0.1:${googlePort}`,
      ...(await fakeStripeConfig(t)).config,
      FITNESS_PROVIDER_RETRIES: 0,
      FITNESS_PROVIDER_TIMEOUT_MS: 1000
    }
  })
  const admin = await signIn(app, { admin: true })
  const self = await signIn(app)
  const competition = await createCompetition(app, admin)
  const knownIds = { userId: self.id, competitionId: competition.id, id: competition.id }

  const targets = routes.filter((r) => !SKIP.test(r.key))
  t.ok(targets.length >= 20, `${targets.length} routes fuzzed, ${NUM_RUNS} runs each`)

  for (const route of targets) {
    const schema = (route.schema ?? {}) as { params?: Obj, querystring?: Obj, body?: Obj, headers?: Obj }
    const paramNames = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string)
    const paramArb = fc.record(Object.fromEntries(paramNames.map((name) => [name, fc.oneof(
      { weight: 3, arbitrary: fc.constant(knownIds[name as keyof typeof knownIds] ?? '1') },
      { weight: 2, arbitrary: validArbitrary((schema.params?.properties as Obj | undefined)?.[name]).map(String) },
      { weight: 2, arbitrary: hostileString }
    )])))
    const bodyArb = schema.body && !(schema.body as { content?: unknown }).content ? inputArbitrary(schema.body) : fc.oneof(fc.constant(undefined), hostileValue)
    const requestArb = fc.record({
      params: paramArb,
      query: schema.querystring ? inputArbitrary(schema.querystring) : fc.oneof(fc.constant(undefined), hostileValue),
      headers: schema.headers ? inputArbitrary(schema.headers) : fc.constant(undefined),
      body: bodyArb,
      caller: fc.constantFrom('self', 'admin'),
      asText: fc.boolean()
    })

    await t.test(route.key, async (t) => {
      let lastStatus = 0
      const statuses = new Map<number, number>()
      const result = await fc.check(fc.asyncProperty(requestArb, async (req) => {
        const url = route.url.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(String((req.params as Obj)[name]))) + toQuery(req.query)
        const headers: Record<string, string> = { ...(req.caller === 'admin' ? admin.headers : self.headers) }
        if (req.headers && typeof req.headers === 'object') {
          for (const [name, value] of Object.entries(req.headers as Obj)) {
            const safe = headerSafe(value)
            if (safe !== undefined && /^[a-z-]+$/.test(name)) headers[name] = safe
          }
        }
        const hasBody = req.body !== undefined && !['GET', 'HEAD'].includes(route.method)
        const res = await app.inject({
          method: route.method as 'GET',
          url,
          headers: hasBody ? { ...headers, 'content-type': req.asText ? 'text/plain' : 'application/json' } : headers,
          ...(hasBody ? { payload: JSON.stringify(req.body) } : {})
        })
        lastStatus = res.statusCode
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        const problem = errorShapeProblem(res)
        if (problem) throw new Error(`${route.method} ${url.slice(0, 200)} -> ${problem}`)
      }), { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false })
      t.comment([...statuses].map(([s, n]) => `${s}x${n}`).join(' '))
      if (result.failed) {
        let example: string
        try { example = fc.stringify(result.counterexample).slice(0, 600) } catch { example = '(too deep to print)' }
        t.fail(`${String(result.errorInstance).slice(0, 800)}\ncounterexample (seed ${result.seed}): ${example}`)
      } else {
        t.pass(`no 5xx in ${result.numRuns} runs (last ${lastStatus})`)
      }
    })
  }
})

test('stored text comes back verbatim and inert', async (t) => {
  const { app } = await buildWithRoutes(t, { config: { RATE_LIMIT_MAX: 1_000_000, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const text = (max: number) => fc.oneof(
    {
      weight: 2,
      arbitrary: fc.constantFrom(...[
        "Robert'); DROP TABLE users;--", '<script>alert(document.cookie)</script>', '"><svg onload=alert(1)>',
        '{{constructor.constructor("alert(1)")()}}', '$' + '{process.exit()}', '\\u0000 \\n \\"', '😀 Ünïcødé — ✓ 中文 العربية',
        'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o', '\u202eright-to-left', '  leading and trailing  ', 'line\nbreak\ttab'
      ].filter((s) => s.length <= max))
    },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: max }) }
  ).filter((s) => s.length <= max)

  await t.test('profile display name and bio', async (t) => {
    const url = `/api/v1/users/${user.id}/profile`
    await fc.assert(fc.asyncProperty(text(64), text(500), async (displayName, bio) => {
      const put = await app.inject({ method: 'PUT', url, headers: user.headers, payload: { displayName, bio } })
      if (put.statusCode >= 500) throw new Error(`PUT ${put.statusCode}`)
      if (put.statusCode !== 200) return // refused input is fine; it must not be mangled
      const got = await app.inject({ url, headers: bearer({ sub: randomUUID() }) })
      if (!String(got.headers['content-type']).startsWith('application/json')) throw new Error('not served as JSON')
      if (got.headers['x-content-type-options'] !== 'nosniff') throw new Error('sniffable')
      const body = got.json()
      if (body.displayName !== displayName || body.bio !== bio) {
        throw new Error(`changed: ${JSON.stringify([displayName, bio])} -> ${JSON.stringify([body.displayName, body.bio])}`)
      }
    }), { numRuns: 40, endOnFailure: true })
    t.pass('every accepted profile text reads back byte for byte, as JSON')
  })

  await t.test('competition name and description', async (t) => {
    await fc.assert(fc.asyncProperty(text(120).filter((s) => s.trim().length > 0), text(2000), async (name, description) => {
      let created: Record<string, unknown>
      try {
        created = await createCompetition(app, admin, { name, description })
      } catch (err) {
        if (/create failed: 5/.test((err as Error).message)) throw err
        return
      }
      const got = await app.inject({ url: `/api/v1/competitions/${String(created.id)}`, headers: user.headers })
      const body = got.json()
      if (body.name !== name || body.description !== description) {
        throw new Error(`changed: ${JSON.stringify([name, description])} -> ${JSON.stringify([body.name, body.description])}`)
      }
    }), { numRuns: 30, endOnFailure: true })
    t.pass('every accepted competition text reads back byte for byte')
  })
})
