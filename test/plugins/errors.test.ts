import { test } from 'tap'
import { Type } from 'typebox'
import { build } from '../helper.ts'
import { errors } from '../../lib/errors.ts'
import { documentedCode, ERROR_CODES_BY_STATUS } from '../../lib/error-codes.ts'

test('one error shape; validation names the field; 5xx never leak internals', async (t) => {
  const app = await build(t, {
    extend (fastify) {
      fastify.post('/probe', {
        schema: { body: Type.Object({ name: Type.String({ minLength: 1 }), age: Type.Integer({ minimum: 0 }) }) }
      }, async () => ({ ok: true }))
      fastify.get('/boom', async () => { throw new Error('password=hunter2 at db.internal:5432') })
      fastify.get('/conflict', async () => { throw errors.Conflict('Username is taken') })
    }
  })

  const invalid = await app.inject({ method: 'POST', url: '/probe', payload: { name: 'a', age: -1 } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: /^body\.age /, details: [{ field: 'body.age' }] })

  const missing = await app.inject({ method: 'POST', url: '/probe', payload: { age: 3 } })
  t.match(missing.json(), { statusCode: 400, details: [{ field: 'body.name' }] }, 'a missing property is named')

  const malformed = await app.inject({ method: 'POST', url: '/probe', headers: { 'content-type': 'application/json' }, payload: '{"name":' })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')

  const boom = await app.inject({ url: '/boom' })
  t.equal(boom.statusCode, 500)
  t.same(Object.keys(boom.json()).sort(), ['code', 'error', 'message', 'requestId', 'statusCode'])
  t.equal(boom.json().message, 'Something went wrong on our side')
  t.notMatch(boom.body, /hunter2|db\.internal/)

  const conflict = await app.inject({ url: '/conflict' })
  t.match(conflict.json(), { statusCode: 409, code: 'CONFLICT', error: 'Conflict', message: 'Username is taken' })
})

test('body size limit answers 413 in the error shape', async (t) => {
  const app = await build(t, {
    config: { BODY_LIMIT_BYTES: 2048 },
    extend (fastify) { fastify.post('/echo', async (request) => request.body) }
  })
  const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(4096) }) })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', error: 'Payload Too Large' })
})

test('under pressure the service sheds load with 503, Retry-After and the error shape', async (t) => {
  // A heap ceiling of one byte is always exceeded: every request is shed.
  const app = await build(t, { config: { MAX_HEAP_USED_BYTES: 1 } })
  await new Promise((resolve) => setTimeout(resolve, 1200))
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.match(res.json(), { statusCode: 503, code: 'OVERLOADED', error: 'Service Unavailable', message: /overloaded/ })
})

// The API document lists each status' codes as an enum (lib/error-codes.ts); a dependency's own
// code never reaches a client under a listed status.
test('an error body carries only a code the API document lists for its status', async (t) => {
  const app = await build(t, {
    extend (fastify) {
      fastify.get('/odd-conflict', async () => { throw Object.assign(new Error('taken'), { statusCode: 409, code: 'SOME_LIBRARY_CODE' }) })
      fastify.get('/odd-unavailable', async () => { throw Object.assign(new Error('queue closed'), { statusCode: 503, code: 'QUEUE_CLOSED' }) })
      fastify.get('/gateway', async () => { throw errors.GatewayError('Payment gateway refused the request: card declined') })
      fastify.get('/teapot', async () => { throw Object.assign(new Error('short and stout'), { statusCode: 418, code: 'TEAPOT' }) })
    }
  })
  t.match((await app.inject({ url: '/odd-conflict' })).json(), { statusCode: 409, code: 'CONFLICT', message: 'taken' })
  t.match((await app.inject({ url: '/odd-unavailable' })).json(), { statusCode: 503, code: 'SERVICE_UNAVAILABLE' })
  t.match((await app.inject({ url: '/gateway' })).json(), { statusCode: 502, code: 'GATEWAY_ERROR', message: /card declined/ }, 'our own gateway error says what failed')
  t.match((await app.inject({ url: '/teapot' })).json(), { statusCode: 418, code: 'TEAPOT' }, 'a status the document does not list keeps its code')
  for (const [status, codes] of ERROR_CODES_BY_STATUS) {
    t.equal(documentedCode(status, codes[1] ?? codes[0]), codes[1] ?? codes[0], `${status}: a listed code is kept`)
  }
})
