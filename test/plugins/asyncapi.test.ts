import t from 'tap'
import { Parser } from '@asyncapi/parser'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.ts'
import { faults } from '../wire-schemas.ts'
import { ServerFrameSchemas } from '../../schemas/realtime.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, seedCompetition, seedParticipants, seedUsers, updateScore, type LiveClient
} from '../routes/leaderboard/fixtures.ts'

// The live feed's AsyncAPI document: valid AsyncAPI 3, and every frame a real socket receives
// matches the payload schema the document gives for its type (the document's own schemas, not
// the TypeBox ones it was built from).

type Obj = Record<string, any>

async function fetchDocument (app: FastifyInstance): Promise<Obj> {
  const res = await app.inject({ url: '/docs/asyncapi.json' })
  if (res.statusCode !== 200) throw new Error(`GET /docs/asyncapi.json: ${res.statusCode} ${res.body}`)
  return res.json()
}

// A message's payload with every $ref into components.schemas inlined, ready to compile.
function inline (node: unknown, document: Obj): unknown {
  if (Array.isArray(node)) return node.map((item) => inline(item, document))
  if (typeof node !== 'object' || node === null) return node
  const ref = (node as Obj).$ref
  if (typeof ref === 'string') {
    const name = /^#\/components\/schemas\/([^/]+)$/.exec(ref)?.[1]
    if (name === undefined || document.components.schemas[name] === undefined) throw new Error(`unresolved $ref ${ref}`)
    return inline(document.components.schemas[name], document)
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inline(value, document)]))
}

function payloadSchemas (document: Obj): Map<string, unknown> {
  const schemas = new Map<string, unknown>()
  for (const message of Object.values(document.components.messages) as Obj[]) schemas.set(message.name, inline(message.payload, document))
  return schemas
}

t.test('the document is served, cached and valid AsyncAPI 3', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/docs/asyncapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'public, max-age=300')
  const document = res.json() as Obj
  t.equal(document.asyncapi, '3.0.0')
  t.same(document.servers, { api: { host: 'localhost', protocol: 'ws', description: 'The service' } }, 'the server from PUBLIC_URL')
  t.equal(document.channels.leaderboard.address, '/ws/leaderboard/{competitionId}')
  t.same(document.channels.leaderboard.bindings.ws.query.required, ['token'], 'only the token must be sent')
  const sent = document.operations.sendFrames.messages.map((m: Obj) => m.$ref.split('/').pop())
  t.same(sent.sort(), Object.keys(ServerFrameSchemas).sort(), 'the server sends every frame type')
  t.equal(document.operations.sendFrames.action, 'send')
  t.same(document.operations.receiveClientMessages.messages.map((m: Obj) => m.$ref.split('/').pop()), ['resume', 'ping'])
  t.match(document.info.description, /4008 SLOW_CONSUMER/, 'the close codes are described')

  const diagnostics = await new Parser().validate(document as { asyncapi: string })
  const errors = diagnostics.filter((d) => d.severity === 0)
  for (const d of diagnostics) t.comment(`${d.severity} ${d.code}: ${d.message} at ${d.path.join('.')}`)
  t.same(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), [], 'no errors from the AsyncAPI parser')

  const local = await build(t, { config: { PUBLIC_URL: 'https://api.example.com' } })
  t.same((await fetchDocument(local)).servers.api, { host: 'api.example.com', protocol: 'wss', description: 'The service' })
})

t.test('every frame a live socket receives matches the document\'s payload schema for its type', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, NOTIFY_TOP_N: 1 } })
  const url = await listen(app)
  const schemas = payloadSchemas(await fetchDocument(app))
  const [ada, bob, carl] = await seedUsers(app, 3)
  const competitionId = await seedCompetition(app, { name: 'Documented' })
  await seedParticipants(app, competitionId, [ada!, bob!, carl!])
  await eventually(async () => (await leaderboard(app, competitionId, ada!)).body.degraded === false, 5000, 'projection ready')

  const clients: LiveClient[] = []
  t.teardown(async () => { for (const c of clients) await c.close() })
  const open = async (userId: string, query: string): Promise<LiveClient> => {
    const client = await liveClient(url, competitionId, { userId, query })
    clients.push(client)
    return client
  }
  const score = async (userId: string, value: number): Promise<void> => {
    const res = await updateScore(app, { competitionId, userId, value })
    if (res.statusCode !== 200) throw new Error(`score update: ${res.statusCode} ${res.body}`)
  }
  // Seqs of the frames that carry the client's place in the numbering.
  const lastSeq = (client: LiveClient): number => client.frames.filter((f) => ['snapshot', 'update', 'rank'].includes(f.type)).at(-1).seq

  // Windows of one: a client's own rank can move while its top stays the same.
  const adaSocket = await open(ada!, '&limit=1&k=1')
  const carlSocket = await open(carl!, '&limit=1&k=1')
  await adaSocket.next((f) => f.type === 'snapshot')
  await carlSocket.next((f) => f.type === 'snapshot')

  await score(ada!, 100)
  await adaSocket.next((f) => f.type === 'update')
  // Bob takes the top (Ada is overtaken: a notification), then Carl passes Ada below him.
  await score(bob!, 150)
  await carlSocket.next((f) => f.type === 'update' && f.entries.some((e: Obj) => e.userId === bob))
  await adaSocket.next((f) => f.type === 'notification' && f.notification.template === 'overtaken', 10_000)
  await score(carl!, 120)
  await carlSocket.next((f) => f.type === 'rank' && f.rank === 2)

  // Back on a new socket from the last seq: resumed.
  const back = await open(carl!, `&limit=1&seq=${lastSeq(carlSocket)}`)
  await back.next((f) => f.type === 'resumed')
  back.send('nonsense')
  await back.next((f) => f.type === 'error')
  back.send({ type: 'resume', seq: 'x' })
  await back.next((f) => f.type === 'error')
  for (const client of clients) {
    client.send({ type: 'ping' })
    await client.next((f) => f.type === 'pong')
  }

  const seen: Record<string, number> = {}
  const problems: string[] = []
  for (const frame of clients.flatMap((c) => c.frames)) {
    const schema = schemas.get(frame?.type)
    if (schema === undefined) { problems.push(`no message for ${JSON.stringify(frame).slice(0, 300)}`); continue }
    seen[frame.type] = (seen[frame.type] ?? 0) + 1
    const found = faults(schema, frame)
    if (found.length > 0) problems.push(`${frame.type}: ${JSON.stringify(found).slice(0, 800)} in ${JSON.stringify(frame).slice(0, 800)}`)
  }
  t.comment(JSON.stringify(seen))
  t.same(problems, [], 'every frame matches the document')
  for (const type of Object.keys(ServerFrameSchemas)) t.ok(seen[type], `${type} frames were seen and checked`)
})

t.test('the document\'s schemas refuse frames that are not what the server sends', async (t) => {
  const app = await build(t)
  const schemas = payloadSchemas(await fetchDocument(app))
  const entry = { rank: 1, position: 1, userId: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', displayName: 'Ada', avatarUrl: null, score: 10, reachedAt: '2026-11-02T08:30:00.000Z' }
  const snapshot = {
    type: 'snapshot', competitionId: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', seq: 1, total: 1, degraded: false, entries: [entry], me: entry, around: [entry]
  }
  t.same(faults(schemas.get('snapshot'), snapshot), [], 'a well-formed snapshot passes')
  t.not(faults(schemas.get('snapshot'), { ...snapshot, extra: 1 }).length, 0, 'an unknown field is refused')
  t.not(faults(schemas.get('snapshot'), { ...snapshot, seq: '1' }).length, 0, 'a wrong type is refused')
  t.not(faults(schemas.get('snapshot'), { ...snapshot, me: { ...entry, score: -1 } }).length, 0, 'a fault in a referenced schema is refused')
  t.not(faults(schemas.get('snapshot'), { ...snapshot, entries: [{ ...entry, nickname: 'x' }] }).length, 0, 'an unknown field of an entry is refused')
  t.not(faults(schemas.get('pong'), { type: 'pong', seq: 1 }).length, 0, 'a pong with a field is refused')
  t.not(faults(schemas.get('update'), { ...snapshot, type: 'update' }).length, 0, 'a snapshot is not an update')
  t.not(faults(schemas.get('ping'), { type: 'pong' }).length, 0, 'a client message checks its type')
})
