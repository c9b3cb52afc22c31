import { test } from 'tap'
import type { AddressInfo } from 'node:net'
import { build } from '../helper.ts'
import { rawConnect, type RawConnection } from '../raw-http.ts'
import { signIn } from '../routes/competitions/fixtures.ts'

// Closing a listening app with keep-alive clients: connections idle or never used close at
// once, the request in flight is answered (Connection: close), a request that arrives while
// draining gets 503 in the common error shape, and close() does not wait for keep-alive
// timeouts. Raw sockets, so nothing retries or hides a reset.

const CLOSE_BOUND_MS = 5_000

test('draining with keep-alive connections', async (t) => {
  let draining: () => void = () => {}
  const drainingStarted = new Promise<void>((resolve) => { draining = resolve })
  const app = await build(t, {
    extend (fastify) {
      fastify.addHook('preClose', function signalDraining (done) { draining(); done() })
    }
  })
  const user = await signIn(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const head = (method: string, url: string, extra = '') =>
    `${method} ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.headers.authorization}\r\n${extra}`

  // A request whose body is still arriving, and one whose headers are; sent first, so the
  // server has read them (the round trips below) before it closes.
  const body = JSON.stringify({ displayName: 'Drained' })
  const inFlight = await rawConnect(port)
  await inFlight.write(head('PUT', `/api/v1/users/${user.id}/profile`, `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`) + body.slice(0, 5))
  const late = await rawConnect(port)
  await late.write(head('GET', '/api/v1/me', 'X-Request-Id: late-1\r\n'))
  // Two connections idle after a keep-alive answer, two that never sent a request.
  const idle: RawConnection[] = []
  for (let i = 0; i < 2; i++) {
    const c = await rawConnect(port)
    await c.write(head('GET', '/api/v1/me', '\r\n'))
    const res = await c.response()
    t.equal(res.status, 200)
    t.equal(res.headers.connection, 'keep-alive', 'the connection is kept alive')
    idle.push(c)
  }
  const unused = [await rawConnect(port), await rawConnect(port)]

  // Every wait below is bounded by one deadline, so a connection left open fails the test.
  let bound: NodeJS.Timeout | undefined
  const expired = new Promise<'timeout'>((resolve) => { bound = setTimeout(() => resolve('timeout'), CLOSE_BOUND_MS) })
  t.teardown(() => clearTimeout(bound))
  const within = async <T>(p: Promise<T>) => await Promise.race([p, expired])
  // Past the deadline, the test lets go of its sockets so that close() can finish.
  expired.then(() => { for (const c of [...idle, ...unused, inFlight, late]) c.socket.destroy() }, () => {})
  const closed = within(app.close().then(() => 'closed' as const))
  await drainingStarted

  const quiet = await within(Promise.all([...idle, ...unused].map(async (c) => await c.closed)))
  t.same(quiet, [{ error: null }, { error: null }, { error: null }, { error: null }],
    'idle and unused connections are closed at once, cleanly')

  await inFlight.write(body.slice(5))
  const answered = await inFlight.response()
  t.equal(answered.status, 200, 'the request in flight is answered')
  t.equal(answered.json().displayName, 'Drained')
  t.equal(answered.headers.connection, 'close', 'with Connection: close')

  await late.write('\r\n')
  const refused = await late.response()
  t.equal(refused.status, 503, 'a request arriving while draining is refused')
  t.equal(refused.headers.connection, 'close')
  t.same(refused.json(), {
    statusCode: 503,
    code: 'SHUTTING_DOWN',
    error: 'Service Unavailable',
    message: 'The server is shutting down: send the request again',
    requestId: 'late-1'
  }, 'in the common error shape')
  t.equal(refused.headers['x-request-id'], 'late-1')

  t.same(await within(Promise.all([inFlight.closed, late.closed])), [{ error: null }, { error: null }], 'their connections end cleanly after the answer')
  t.equal(await closed, 'closed', `close() completes without waiting for keep-alive timeouts (bound ${CLOSE_BOUND_MS} ms)`)
})
