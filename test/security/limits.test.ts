import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import sharp from 'sharp'
import { WebSocket } from 'ws'
import { build, bearer, token } from '../helper.ts'
import { buildWithRoutes } from '../route-table.ts'
import { signIn } from '../routes/competitions/fixtures.ts'
import { LEADERBOARD_TEST_CONFIG, listen, liveClient, seedCompetition, seedParticipants, seedUsers } from '../routes/leaderboard/fixtures.ts'
import { HOUR, insertCompetition, join, person, sample, sync } from '../routes/fitness/fixtures.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'

// Every limit the service promises, met from just inside and just outside: body size, multipart
// parts and file size, batch sizes, pagination caps, WebSocket message size and rate, and rate
// limits per route group shared across instances. Past a limit the answer is a 4xx in the
// common error shape (or a WebSocket close code), never a 5xx, and nothing is stored.

type Obj = Record<string, any>
const ERROR_KEYS = ['code', 'error', 'message', 'requestId', 'statusCode']

function multipart (parts: Array<{ name: string, filename?: string, type?: string, data: Buffer | string }>): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----limits${randomUUID()}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`))
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

test('JSON body size: every route with a body answers 413 one byte past its limit', async (t) => {
  const { app, routes } = await buildWithRoutes(t, { config: { BODY_LIMIT_BYTES: 4096, RATE_LIMIT_MAX: 100_000, MAX_EVENT_LOOP_DELAY_MS: 0, ...(await fakeStripeConfig(t)).config } })
  const admin = bearer({ sub: randomUUID(), admin: true })
  const withBody = routes.filter((r) => ['POST', 'PUT', 'PATCH'].includes(r.method) && !(r.schema as Obj | undefined)?.body?.content)
  t.ok(withBody.length >= 10, `${withBody.length} routes take a JSON body`)
  for (const route of withBody) {
    const limit = route.bodyLimit ?? 4096
    t.ok(limit <= 1_048_576 * 4, `${route.key}: a bounded body limit (${limit} bytes)`)
    const url = route.url.replace(/:(\w+)/g, () => randomUUID()).replace(/\/:id\//, '/1/')
    const payload = JSON.stringify({ pad: 'x'.repeat(limit) })
    const res = await app.inject({ method: route.method as 'POST', url, headers: { ...admin, 'content-type': 'application/json', 'idempotency-key': randomUUID() }, payload })
    t.equal(res.statusCode, 413, `${route.key}: 413 past ${limit} bytes`)
    t.same(Object.keys(res.json()).sort(), ERROR_KEYS)
  }
  // Nesting is not a way around the limits: half a million levels fit in 3 MB and are refused
  // by the parser or the schema, not by a crashed process.
  const deep = await buildWithRoutes(t, { config: { BODY_LIMIT_BYTES: 4_000_000, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const nested = '{"name":' + '{"a":['.repeat(250_000) + '1' + ']}'.repeat(250_000) + '}'
  const res = await deep.app.inject({ method: 'POST', url: '/api/v1/competitions', headers: { ...admin, 'content-type': 'application/json' }, payload: nested })
  t.equal(res.statusCode, 400, 'a 250,000-deep document is a 400')
})

test('multipart: one file, bounded size, bounded parts; refusals store nothing', async (t) => {
  const app = await build(t, { config: { AVATAR_MAX_BYTES: 4096, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const user = await signIn(app)
  const url = `/api/v1/users/${user.id}/avatar`
  const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c83' } }).png().toBuffer()
  t.ok(png.length < 4096, 'a small valid image')
  const post = async (form: ReturnType<typeof multipart>) => await app.inject({ method: 'POST', url, headers: { ...user.headers, ...form.headers }, payload: form.payload })

  const cases: Array<[string, ReturnType<typeof multipart>, number[]]> = [
    ['a file past AVATAR_MAX_BYTES', multipart([{ name: 'file', filename: 'a.png', type: 'image/png', data: Buffer.concat([png, Buffer.alloc(8192)]) }]), [413]],
    ['a form far past the limit', multipart([{ name: 'file', filename: 'a.png', type: 'image/png', data: Buffer.alloc(2_000_000) }]), [413]],
    ['two files', multipart([{ name: 'file', filename: 'a.png', type: 'image/png', data: png }, { name: 'file2', filename: 'b.png', type: 'image/png', data: png }]), [200, 400, 413]],
    ['eleven parts', multipart([...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, data: 'x' })), { name: 'file', filename: 'a.png', type: 'image/png', data: png }]), [400, 413]],
    ['a field past 1 KB before the file', multipart([{ name: 'note', data: 'x'.repeat(5000) }, { name: 'file', filename: 'a.png', type: 'image/png', data: png }]), [200, 400, 413]],
    ['no file at all', multipart([{ name: 'note', data: 'hello' }]), [400]]
  ]
  for (const [name, form, allowed] of cases) {
    const res = await post(form)
    t.ok(allowed.includes(res.statusCode), `${name}: ${res.statusCode} (allowed ${allowed.join('/')})`)
    if (res.statusCode >= 400) t.same(Object.keys(res.json()).sort(), ERROR_KEYS, `${name}: error shape`)
  }
  const json = await app.inject({ method: 'POST', url, headers: user.headers, payload: { file: 'x' } })
  t.equal(json.statusCode, 415, 'JSON instead of a form: 415')
  const { rows } = await app.pg.query('SELECT avatar_key FROM users WHERE id = $1', [user.id])
  const accepted = cases.some(([, , allowed]) => allowed.includes(200))
  t.ok(accepted || rows[0]?.avatar_key === null, 'refused uploads left no avatar behind')
})

test('fitness sync batches: the cap is accepted, one more is refused whole', async (t) => {
  const app = await build(t, { config: { FITNESS_SYNC_BATCH_MAX: 20, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const now = Date.now()
  const competitionId = await insertCompetition(app, { startsAt: now - 3 * HOUR, endsAt: now + HOUR })
  const walker = person()
  await join(app, walker, competitionId)
  const batch = (n: number) => Array.from({ length: n }, (_, i) => sample({ start: now - 2 * HOUR + i * 60_000, minutes: 1, value: 10 }))

  const over = await sync(app, walker, { source: 'healthkit', samples: batch(21) })
  t.equal(over.statusCode, 400, '21 samples: 400')
  t.match(over.json(), { code: 'VALIDATION_ERROR', message: /samples/ })
  const overDeletions = await sync(app, walker, { source: 'healthkit', deletions: Array.from({ length: 21 }, () => ({ externalId: randomUUID() })) })
  t.equal(overDeletions.statusCode, 400, '21 deletions: 400')
  const { rows: none } = await app.pg.query('SELECT count(*)::int AS n FROM fitness_samples WHERE user_id = $1', [walker.id])
  t.equal(none[0].n, 0, 'nothing stored from a refused batch')

  const atCap = await sync(app, walker, { source: 'healthkit', samples: batch(20) })
  t.equal(atCap.statusCode, 200, '20 samples: accepted')
  t.equal(atCap.json().inserted, 20)
})

test('pagination: every list caps its page size, and cursors are bounded', async (t) => {
  const { app, routes } = await buildWithRoutes(t, { config: { RATE_LIMIT_MAX: 100_000, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0, ...(await fakeStripeConfig(t)).config } })
  const admin = await signIn(app, { admin: true })
  const lists = routes.filter((r) => r.method === 'GET' && (r.schema as Obj | undefined)?.querystring?.properties?.limit)
  t.ok(lists.length >= 6, `${lists.length} paginated routes`)
  const competitionId = await seedCompetition(app)
  // A webhook endpoint, for its delivery log (a literal public address: tests resolve no names).
  const endpoint = await app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload: { url: 'https://93.184.215.14/hooks', eventTypes: ['prize.paid'] } })
  t.equal(endpoint.statusCode, 201, endpoint.body)
  for (const route of lists) {
    const limit = (route.schema as Obj).querystring.properties.limit
    t.ok(limit.maximum <= 100, `${route.key}: limit capped at ${limit.maximum}`)
    // A competition's own lists (its invites) take the competition; the delivery log the endpoint.
    const url = route.url.replace(':userId', admin.id).replace(':competitionId', competitionId)
      .replace('/competitions/:id', `/competitions/${competitionId}`).replace(':id', endpoint.json().id)
    const at = await app.inject({ url: `${url}?limit=${limit.maximum}`, headers: admin.headers })
    t.equal(at.statusCode, 200, `${route.key}: limit=${limit.maximum} accepted`)
    const items = at.json().items ?? at.json().entries
    t.ok(Array.isArray(items) && items.length <= limit.maximum, 'no more than asked for')
    for (const bad of [limit.maximum + 1, 0, -1, 1e9, 'ten']) {
      const res = await app.inject({ url: `${url}?limit=${bad}`, headers: admin.headers })
      t.equal(res.statusCode, 400, `${route.key}: limit=${bad} refused`)
    }
    const longCursor = await app.inject({ url: `${url}?cursor=${'A'.repeat(201)}`, headers: admin.headers })
    t.equal(longCursor.statusCode, 400, `${route.key}: a 201-character cursor refused`)
    const forged = await app.inject({ url: `${url}?cursor=${Buffer.from('{"x":"\' OR 1=1"}').toString('base64url')}`, headers: admin.headers })
    t.ok([200, 400].includes(forged.statusCode), `${route.key}: a forged cursor is ${forged.statusCode}, never a 5xx`)
  }
})

test('WebSocket: messages past 4 KB close the socket (1009); a flood is bounded', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const url = await listen(app)
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, users)

  const big = await liveClient(url, competitionId, { userId: users[0] })
  await big.next((f) => f.type === 'snapshot')
  big.socket.send('x'.repeat(4097))
  t.equal((await big.closed).code, 1009, 'a 4097-byte message: closed with 1009 (message too big)')

  const small = await liveClient(url, competitionId, { userId: users[1] })
  await small.next((f) => f.type === 'snapshot')
  small.socket.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(4000) }))
  await small.next((f) => f.type === 'pong')
  t.pass('a message just under the limit is answered')

  // 2,000 messages as fast as the socket takes them: the server answers or drops the client,
  // and keeps serving everyone else.
  const flooder = await liveClient(url, competitionId, { userId: users[1] })
  await flooder.next((f) => f.type === 'snapshot')
  for (let i = 0; i < 2000; i++) flooder.socket.send(i % 2 === 0 ? '{"type":"ping"}' : '{"type":"resume","seq":0}')
  const settled = await Promise.race([
    flooder.closed.then((c) => `closed ${c.code}`),
    new Promise<string>((resolve) => setTimeout(() => resolve('open'), 3000))
  ])
  const answered = flooder.frames.filter((f) => f.type === 'pong').length
  t.comment(`flood: ${settled}, ${answered} pongs for 1000 pings`)
  t.ok(answered <= 20, `at most the burst allowance is answered (${answered})`)
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'the instance keeps serving')
  const other = await liveClient(url, competitionId, { userId: users[0] })
  t.teardown(() => other.close())
  await other.next((f) => f.type === 'snapshot')
  t.pass('new clients are still admitted')
  t.equal(settled, 'closed 4029', 'a flooding client is cut off with 4029 (too many messages)')
  await flooder.close()
  await small.close()
})

test('rate limits per route group, shared across instances', async (t) => {
  const config = { RATE_LIMIT_MAX: 4, RATE_LIMIT_WRITE_MAX: 2, RATE_LIMIT_SYNC_MAX: 1, RATE_LIMIT_REALTIME_MAX: 2, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 }
  const a = await build(t, { config })
  const b = await build(t, { config, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  const user = randomUUID()
  const headers = bearer({ sub: user })
  const profile = `/api/v1/users/${user}/profile`

  // Reads: 4 across both instances, then 429 on either.
  const reads = []
  for (const app of [a, b, a, b, a, b]) reads.push((await app.inject({ url: profile, headers })).statusCode)
  t.same(reads, [200, 200, 200, 200, 429, 429], 'reads: one budget of 4 across A and B')
  const limited = await a.inject({ url: '/api/v1/me', headers })
  t.equal(limited.statusCode, 429, 'another read route shares the read budget')
  t.match(limited.json(), { code: 'RATE_LIMITED', message: /read requests/ })
  t.equal(limited.headers['x-ratelimit-limit'], '4')
  t.ok(Number(limited.headers['retry-after']) > 0)

  // Writes have a budget of their own, untouched by the reads above.
  const writes = []
  for (const app of [b, a, b]) {
    writes.push((await app.inject({ method: 'PUT', url: profile, headers, payload: { bio: `w${writes.length}` } })).statusCode)
  }
  t.same(writes, [200, 200, 429], 'writes: a budget of 2 across instances, separate from reads')
  const join = await a.inject({ method: 'POST', url: `/api/v1/competitions/${randomUUID()}/join`, headers, payload: {} })
  t.equal(join.statusCode, 429, 'another write route shares the write budget')

  // Syncs: a budget of 1.
  const syncs = []
  for (const app of [a, b]) {
    syncs.push((await app.inject({ method: 'POST', url: '/api/v1/fitness/sync', headers, payload: { source: 'healthkit', samples: [] } })).statusCode)
  }
  t.not(syncs[0], 429, 'the first sync passes the limiter')
  t.equal(syncs[1], 429, 'the second, on the other instance, is limited')

  // Another user is unaffected; anonymous callers are limited per address.
  t.equal((await b.inject({ url: '/api/v1/me', headers: bearer({ sub: randomUUID() }) })).statusCode, 200)

  // WebSocket connection attempts are their own group too.
  const url = await listen(a)
  const ws = async () => await new Promise<number>((resolve) => {
    const s = new WebSocket(`${url.replace('http', 'ws')}/ws/leaderboard/${randomUUID()}?token=${token({ sub: user })}`)
    s.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    s.on('close', (code) => resolve(code))
    s.on('error', () => {})
  })
  const attempts = [await ws(), await ws(), await ws()]
  t.same(attempts.slice(0, 2), [4404, 4404], 'two attempts are admitted to the check (unknown competition: 4404)')
  t.equal(attempts[2], 429, 'the third upgrade is refused with 429')
})
