import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { exampleFromSchema } from '../../lib/openapi-examples.ts'
import { createRedisPrefix, createTestDatabase } from '../helper.ts'
import type { AppReply, AppRequest } from './extremes-app.ts'

// Every date, time and number a client can send (path parameters, query strings and bodies of
// every route) driven at the edges of the calendar and of doubles: years 0001, 9999 and
// +010000, the largest safe integers and one past them, negative zero, -1, 0, and runs of a
// thousand digits. Each answer is a 4xx, or a 2xx of bounded size within REQUEST_BOUND_MS;
// /health answers 200 after every route. The app runs in a worker thread, so a request that
// never ends (a loop over days that overflows the calendar) is named and stopped here instead
// of hanging or aborting the test process.

const REQUEST_BOUND_MS = 2_000
// Past this the worker is taken as stuck and stopped.
const HARD_LIMIT_MS = 10_000
const MAX_ANSWER_BYTES = 1_000_000
// Random combinations of several extremes per route, after every single one has been sent.
const RANDOM_RUNS = Number(process.env.EXTREMES_RUNS ?? 15)
const SEED = process.env.EXTREMES_SEED === undefined ? undefined : Number(process.env.EXTREMES_SEED)
const GOOGLE_TOKEN = 'ya29.extremes-token'
const SKIP = /^(GET|HEAD) \/(docs|live\/assets|files)\b|^OPTIONS \*$|^GET \/ws\//

type Obj = Record<string, unknown>
type Path = Array<string | number>
type Kind = 'number' | 'date' | 'date-time'
type Part = 'params' | 'querystring' | 'body'

const DIGITS = '9'.repeat(1000)
// Raw text: as it appears in a query string or path, or as a JSON token in a body (where the
// ones that are not JSON, such as Infinity, are a malformed body, also a 4xx).
const NUMBERS = ['9007199254740991', '9007199254740991.0', '-9007199254740991', '9007199254740992', '-9007199254740993',
  '-0', '-1', '0', '1', '0.5', '1e308', '-1e308', '5e-324', '1e999', DIGITS, `-${DIGITS}`, `0.${DIGITS}`, 'Infinity', '-Infinity', 'NaN']
const DATES = ['0001-01-01', '0000-01-01', '9999-12-31', '+010000-01-01', '-000001-01-01', '+275760-09-13', '1999-12-31', '2000-01-01',
  '2099-12-31', '2100-01-01', '2024-02-30', '99999999-12-31', DIGITS]
const DATE_TIMES = ['0001-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59-14:00',
  '+010000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '1999-12-31T23:59:59Z',
  '2000-01-01T00:00:00Z', '2099-12-31T23:59:59.999Z', '2099-12-31T23:59:59-14:00', '2100-01-01T00:00:00Z', DIGITS]

interface Extreme { text: string, token: string }
const asExtremes = (texts: string[], quoted: boolean): Extreme[] => texts.map((text) => ({ text, token: quoted ? JSON.stringify(text) : text }))
const EXTREMES: Record<Kind, Extreme[]> = {
  number: asExtremes(NUMBERS, false),
  date: [...asExtremes(DATES, true), { text: '253402300799999', token: '253402300799999' }],
  'date-time': [...asExtremes(DATE_TIMES, true), { text: '253402300799999', token: '253402300799999' }]
}

// Where an input sits, and what must be around it for the request to be well formed otherwise:
// containers created when missing, and for a union the branch the input belongs to.
interface Bounds { min: number, max: number, integer: boolean }
interface Slot { part: Part, path: Path, kind: Kind, bounds?: Bounds, scaffolds: Array<{ path: Path, value: unknown, replace: boolean }> }

function isObject (value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const example = (schema: unknown): unknown => exampleFromSchema(schema, () => undefined)

function findSlots (schema: unknown, part: Part, path: Path, scaffolds: Slot['scaffolds'], out: Slot[], depth = 0): void {
  if (!isObject(schema) || depth > 8) return
  const variants = (schema.anyOf ?? schema.oneOf) as unknown
  if (Array.isArray(variants)) {
    for (const variant of variants) {
      const structured = isObject(variant) && (variant.type === 'object' || variant.type === 'array')
      findSlots(variant, part, path, structured ? [...scaffolds, { path, value: example(variant), replace: true }] : scaffolds, out, depth + 1)
    }
    return
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
  if ((type === 'object' || type === undefined) && isObject(schema.properties)) {
    const here = path.length === 0 ? scaffolds : [...scaffolds, { path, value: example(schema), replace: false }]
    for (const [key, sub] of Object.entries(schema.properties)) findSlots(sub, part, [...path, key], here, out, depth + 1)
  } else if (type === 'array' && isObject(schema.items)) {
    findSlots(schema.items, part, [...path, 0], [...scaffolds, { path, value: [example(schema.items)], replace: false }], out, depth + 1)
  } else if (type === 'integer' || type === 'number') {
    const bound = (inclusive: unknown, exclusive: unknown, fallback: number): number => typeof inclusive === 'number' ? inclusive : typeof exclusive === 'number' ? exclusive : fallback
    const bounds = { min: bound(schema.minimum, schema.exclusiveMinimum, -Infinity), max: bound(schema.maximum, schema.exclusiveMaximum, Infinity), integer: type === 'integer' }
    out.push({ part, path, kind: 'number', bounds, scaffolds })
  } else if (type === 'string' && (schema.format === 'date' || schema.format === 'date-time')) {
    out.push({ part, path, kind: schema.format, scaffolds })
  }
}

function getAt (root: unknown, path: Path): unknown {
  let value = root
  for (const key of path) value = (value as Obj | undefined)?.[key as string]
  return value
}

function setAt (root: Obj, path: Path, value: unknown): void {
  let target = root
  for (const key of path.slice(0, -1)) target = target[key as string] as Obj
  target[path.at(-1) as string] = value
}

interface RouteInfo { method: string, url: string, key: string, websocket: boolean, schema?: { params?: Obj, querystring?: Obj, body?: Obj, headers?: Obj } }
interface Ready { routes: RouteInfo[], people: { self: { id: string, headers: Obj }, admin: { id: string, headers: Obj } }, ids: { scheduled: string, active: string } }
interface Request { params: Record<string, string>, query: Obj, body: unknown, admin: boolean }

// A well-formed request of each route that reaches its handler, into which extremes are put.
function baseRequest (route: RouteInfo, slots: Slot[], ready: Ready): Request {
  const { self } = ready.people
  const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string)
  const params = Object.fromEntries(names.map((name) => [name,
    name === 'userId' ? self.id : name === 'competitionId' ? ready.ids.active : route.url.startsWith('/api/v1/admin/flags') ? '1' : ready.ids.scheduled]))
  const admin = /\/admin\/|^POST \/api\/v1\/(competitions|leaderboard\/update|prizes)/.test(route.key)
  const hour = 3_600_000
  const at = (ms: number): string => new Date(Date.now() + ms).toISOString()
  const body = route.schema?.body
  switch (route.key) {
    case 'GET /api/v1/fitness/stats/:userId': return { params, query: { metric: 'steps' }, body: undefined, admin }
    case 'GET /api/v1/leaderboard/:competitionId': return { params, query: { around: 'me' }, body: undefined, admin }
    case 'POST /api/v1/fitness/sync':
      return slots.some((s) => s.part === 'body' && ['from', 'to'].includes(s.path[0] as string))
        ? { params, query: {}, body: { provider: 'google_fit', accessToken: GOOGLE_TOKEN }, admin }
        : {
            params,
            query: {},
            body: {
              source: 'healthkit',
              samples: [{ externalId: randomUUID(), version: 1, metric: 'steps', kind: 'sample', startTime: at(-2 * hour), endTime: at(-hour), value: 100, recordingMethod: 'automatic', tzOffsetMinutes: 0 }],
              deletions: [{ externalId: randomUUID(), version: 1 }]
            },
            admin
          }
    case 'POST /api/v1/competitions':
      return {
        params,
        query: {},
        body: { name: 'Edge race', metric: 'steps', startsAt: at(hour), endsAt: at(25 * hour), gracePeriodSeconds: 0, entryFee: 0, sponsorPrize: 0, houseShareBps: 0, maxParticipants: 10, prizeSplit: { type: 'percent', places: [100] } },
        admin
      }
    case 'POST /api/v1/leaderboard/update': return { params, query: {}, body: { competitionId: ready.ids.active, userId: self.id, operation: 'increment', value: 1 }, admin }
    case 'POST /api/v1/admin/users/:userId/credit': return { params, query: {}, body: { amount: 100, currency: 'USD' }, admin }
    default: return { params, query: {}, body: body === undefined || isObject(body.content) ? undefined : example(body), admin }
  }
}

interface Sent { method: string, url: string, headers: Record<string, string>, payload?: string }
// What was sent, and which of the chosen extremes it holds: a later choice in another branch of
// a union replaces the branch an earlier one was put into, and that one is then not sent.
interface Built { request: Sent, sent: Array<[Slot, Extreme]> }

function withExtremes (route: RouteInfo, base: Request, chosen: Array<[Slot, Extreme]>, ready: Ready): Built {
  const params = { ...base.params }
  const query: Obj = structuredClone(base.query)
  const body = structuredClone(base.body) as Obj | undefined
  const tokens: string[] = []
  const inBody: Array<[Slot, Extreme]> = []
  const sent: Array<[Slot, Extreme]> = []
  for (const [slot, extreme] of chosen) {
    if (slot.part === 'params') { params[slot.path[0] as string] = extreme.text; sent.push([slot, extreme]); continue }
    if (slot.part === 'querystring') { query[slot.path[0] as string] = extreme.text; sent.push([slot, extreme]); continue }
    for (const scaffold of slot.scaffolds) {
      const current = getAt(body, scaffold.path)
      const missing = current === undefined || current === null || (Array.isArray(current) && current.length === 0)
      if (scaffold.replace || missing) setAt(body as Obj, scaffold.path, structuredClone(scaffold.value))
    }
    setAt(body as Obj, slot.path, `__extreme_${tokens.length}__`)
    tokens.push(extreme.token)
    inBody.push([slot, extreme])
  }
  const url = route.url.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(params[name] ?? '')) +
    (Object.keys(query).length === 0 ? '' : `?${new URLSearchParams(query as Record<string, string>).toString()}`)
  const person = base.admin ? ready.people.admin : ready.people.self
  const headers: Record<string, string> = { ...(person.headers as Record<string, string>), 'idempotency-key': randomUUID() }
  if (body === undefined || ['GET', 'HEAD'].includes(route.method)) return { request: { method: route.method, url, headers }, sent }
  const json = JSON.stringify(body)
  inBody.forEach((choice, i) => { if (json.includes(`"__extreme_${i}__"`)) sent.push(choice) })
  const payload = json.replace(/"__extreme_(\d+)__"/g, (_m, i: string) => tokens[Number(i)] as string)
  return { request: { method: route.method, url, headers: { ...headers, 'content-type': 'application/json' }, payload }, sent }
}

// Whether a number lies outside what its schema allows: then only a 4xx is right (a non-finite
// value coerced from text, or 1e999 in JSON, once slipped past every minimum and maximum).
function outOfBounds (slot: Slot, extreme: Extreme): boolean {
  if (slot.bounds === undefined) return false
  const value = Number(extreme.text)
  const { min, max, integer } = slot.bounds
  return !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))
}

function describe (request: Sent): string {
  return `${request.method} ${request.url.slice(0, 160)}${request.payload === undefined ? '' : ` ${request.payload.slice(0, 300)}`}`
}

function problem (request: Sent, reply: AppReply, refuse: boolean): string | undefined {
  const accepted = reply.statusCode >= 200 && reply.statusCode < 300
  if (!accepted && !(reply.statusCode >= 400 && reply.statusCode < 500)) return `${describe(request)} -> ${reply.statusCode} ${reply.body}`
  if (accepted && refuse) return `${describe(request)} -> ${reply.statusCode}: a number outside its schema was accepted`
  if (reply.elapsedMs > REQUEST_BOUND_MS) return `${describe(request)} -> ${reply.statusCode} after ${Math.round(reply.elapsedMs)} ms`
  if (reply.bytes > MAX_ANSWER_BYTES) return `${describe(request)} -> ${reply.statusCode} with ${reply.bytes} bytes`
  return undefined
}

interface AppThread {
  ready: Ready
  send: (request: Sent) => Promise<AppReply>
  // Why the thread stopped (a request that never ended, a full heap), once it has.
  stopped: () => string | undefined
  close: () => Promise<void>
}

// The app in a worker thread on the test's database. A thread that stopped is replaced by a
// new one on the same database, so one run names every route that fails this way.
async function startApp (workerData: Obj): Promise<AppThread> {
  const worker = new Worker(new URL('./extremes-app.ts', import.meta.url), {
    workerData,
    // A request that fills the heap ends the worker, not the test process.
    resourceLimits: { maxOldGenerationSizeMb: 512 }
  })
  let stopped: string | undefined
  const pending = new Map<number, (reply: AppReply | Error) => void>()
  const stop = (reason: string): void => {
    stopped ??= reason
    for (const settle of pending.values()) settle(new Error(stopped))
  }
  const ready = await new Promise<Ready>((resolve, reject) => {
    worker.on('message', (message: AppReply | (Ready & { type: 'ready' })) => {
      if ('type' in message) resolve(message)
      else pending.get(message.id)?.(message)
    })
    worker.on('error', (err) => { stop(`the app's thread failed: ${err.message}`); reject(err) })
    worker.on('exit', (code) => { stop(`the app's thread exited (${code})`); reject(new Error(`exited (${code})`)) })
  })

  let nextId = 0
  async function send (request: Sent): Promise<AppReply> {
    if (stopped !== undefined) throw new Error(stopped)
    const id = nextId++
    return await new Promise<AppReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop(`no answer within ${HARD_LIMIT_MS} ms to ${describe(request)}`)
        worker.terminate().catch(() => {})
      }, HARD_LIMIT_MS)
      pending.set(id, (reply) => {
        clearTimeout(timer)
        pending.delete(id)
        if (reply instanceof Error) reject(reply); else resolve(reply)
      })
      worker.postMessage({ id, ...request } satisfies AppRequest)
    })
  }

  async function close (): Promise<void> {
    if (stopped === undefined) {
      const exited = new Promise((resolve) => worker.once('exit', resolve))
      worker.postMessage({ type: 'close' })
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, HARD_LIMIT_MS))])
    }
    await worker.terminate()
  }

  return { ready, send, stopped: () => stopped, close }
}

test('every date, time and number at its extremes gets a 4xx or a bounded 2xx, and the service keeps answering', async (t) => {
  const workerData = {
    databaseUrl: await createTestDatabase(t),
    redisPrefix: await createRedisPrefix(t),
    googleToken: GOOGLE_TOKEN,
    config: {
      RATE_LIMIT_MAX: 1_000_000,
      LIFECYCLE_JOBS: false,
      MAX_EVENT_LOOP_DELAY_MS: 0,
      FITNESS_PROVIDER_RETRIES: 0,
      FITNESS_PROVIDER_TIMEOUT_MS: 1000
    }
  }
  let app = await startApp(workerData)
  t.teardown(async () => await app.close())
  const stops: string[] = []

  const targets = app.ready.routes.filter((r) => !r.websocket && !SKIP.test(r.key))
  let slotCount = 0
  let requests = 0
  for (const route of targets) {
    const slots: Slot[] = []
    findSlots(route.schema?.params, 'params', [], [], slots)
    findSlots(route.schema?.querystring, 'querystring', [], [], slots)
    if (!isObject(route.schema?.body?.content)) findSlots(route.schema?.body, 'body', [], [], slots)
    if (slots.length === 0) continue
    slotCount += slots.length
    if (app.stopped() !== undefined) {
      await app.close()
      app = await startApp(workerData)
    }
    const { ready, send } = app

    await t.test(route.key, async (t) => {
      const statuses = new Map<number, number>()
      const choice = fc.uniqueArray(fc.nat(slots.length - 1), { minLength: 1, maxLength: 3 })
        .chain((picked) => fc.tuple(...picked.map((s) => fc.tuple(fc.constant(s), fc.nat(EXTREMES[slots[s]!.kind].length - 1)))))
      // Every single extreme first, then random combinations of a few.
      const examples = slots.flatMap((slot, s) => EXTREMES[slot.kind].map((_, e) => [[[s, e] as [number, number]]] as [Array<[number, number]>]))
      const result = await fc.check(fc.asyncProperty(choice, async (picked) => {
        const chosen = picked.map(([s, e]): [Slot, Extreme] => [slots[s]!, EXTREMES[slots[s]!.kind][e]!])
        const { request, sent } = withExtremes(route, baseRequest(route, chosen.map(([slot]) => slot), ready), chosen, ready)
        const reply = await send(request)
        requests++
        statuses.set(reply.statusCode, (statuses.get(reply.statusCode) ?? 0) + 1)
        const found = problem(request, reply, sent.some(([slot, extreme]) => outOfBounds(slot, extreme)))
        if (found !== undefined) throw new Error(found)
      }), { examples, numRuns: examples.length + RANDOM_RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) })
      t.comment(`${slots.map((s) => `${s.part}.${s.path.join('.')}`).join(', ')}: ${[...statuses].map(([s, n]) => `${s}x${n}`).join(' ')}`)
      if (result.failed) t.fail(`${String(result.errorInstance).slice(0, 1200)} (EXTREMES_SEED=${result.seed} repeats the run)`)
      else t.pass(`${result.numRuns} requests, each a 4xx or a 2xx within ${REQUEST_BOUND_MS} ms`)
      const stopped = app.stopped()
      if (stopped !== undefined) {
        stops.push(stopped.slice(0, 400))
        return
      }
      const health = await send({ method: 'GET', url: '/health', headers: {} })
      t.equal(health.statusCode, 200, '/health answers 200 afterwards')
    })
  }
  t.same(stops, [], 'no request stopped the app')
  t.ok(slotCount >= 25, `${slotCount} date, time and number inputs driven over ${requests} requests`)
})
