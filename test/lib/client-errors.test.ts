import { test } from 'tap'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { bearer, build } from '../helper.ts'
import { rawConnect } from '../raw-http.ts'

// Requests Node's HTTP parser refuses never reach a route or hook, yet the answer has the
// common error shape, with a request id also sent as x-request-id, and the connection ends.

test('what the HTTP parser refuses is answered in the common error shape', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  // A route that reads its body, so the body's bytes are parsed before any answer.
  const userId = randomUUID()
  const withBody = `PUT /api/v1/users/${userId}/profile HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer({ sub: userId }).authorization}\r\nContent-Type: application/json\r\n`

  const cases: Array<[string, string, number, string]> = [
    ['headers over 16 KB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    // Node has no URL limit of its own: the request line counts against the header size.
    ['a URL over 16 KB', `GET /health?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['a malformed request line', 'GET /health not-http\r\nHost: x\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['an invalid method', 'G\u0001T /health HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['a header name with a space', 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['both content-length and chunked', 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['chunk extensions over 16 KB', `${withBody}Transfer-Encoding: chunked\r\n\r\n1;ext=${'a'.repeat(20_000)}\r\na\r\n0\r\n\r\n`, 413, 'CHUNK_EXTENSIONS_TOO_LARGE']
  ]
  for (const [name, bytes, statusCode, code] of cases) {
    const connection = await rawConnect(port)
    await connection.write(bytes).catch(() => {})
    const res = await connection.response()
    t.equal(res.status, statusCode, `${name}: ${statusCode}`)
    t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'requestId', 'statusCode'], `${name}: the common error shape`)
    t.match(body, { statusCode, code, error: String, message: String, requestId: /^[0-9a-f-]{36}$/ }, `${name}: code and request id`)
    t.equal(res.headers['x-request-id'], body.requestId, `${name}: the request id is also a header`)
    await connection.closed
  }

  // A path segment over maxParamLength reaches the router, which answers 414 the same way.
  const long = await rawConnect(port)
  await long.write(`GET /api/v1/users/${'x'.repeat(500)}/profile HTTP/1.1\r\nHost: x\r\nX-Request-Id: long-uri\r\n\r\n`)
  const uri = await long.response()
  t.equal(uri.status, 414)
  t.same(uri.json(), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH', error: 'URI Too Long', message: 'A path segment is too long', requestId: 'long-uri' })
  long.socket.destroy()

  // The connection that sent nothing wrong is still served.
  const fine = await rawConnect(port)
  await fine.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal((await fine.response()).status, 200, 'a well-formed request on a new connection is served')
})
