import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helper.ts'

// Inputs that get past the schemas or never reach a route still get the common error shape.

test('a NUL character the database cannot store is a 400, not a 500', async (t) => {
  const app = await build(t, {
    extend (fastify) {
      // Any text column will do: the schema allows the string, Postgres refuses it.
      fastify.post('/probe/store', async (request) => {
        const { text } = request.body as { text: string }
        const { rows } = await fastify.pg.query('SELECT $1::text AS text', [text])
        return rows[0]
      })
      fastify.post('/probe/number', async (request) => {
        const { n } = request.body as { n: string }
        const { rows } = await fastify.pg.query('SELECT $1::int AS n', [n])
        return rows[0]
      })
    }
  })
  const nul = await app.inject({ method: 'POST', url: '/probe/store', payload: { text: 'a\u0000b' } })
  t.equal(nul.statusCode, 400)
  t.match(nul.json(), { statusCode: 400, code: 'UNSTORABLE_VALUE', message: /NUL/, requestId: nul.headers['x-request-id'] })
  t.notMatch(nul.body, /0x00|UTF8|encoding/, 'the database message is not echoed')
  const overflow = await app.inject({ method: 'POST', url: '/probe/number', payload: { n: '99999999999' } })
  t.equal(overflow.statusCode, 400, 'an out-of-range number too')
  t.equal((await app.inject({ method: 'POST', url: '/probe/store', payload: { text: 'fine' } })).json().text, 'fine')
})

test('router-level errors keep the common shape and do not echo the URL', async (t) => {
  const app = await build(t)
  const headers = bearer({ sub: randomUUID() })
  const long = await app.inject({ url: `/api/v1/users/${'x'.repeat(500)}/profile`, headers: { ...headers, 'x-request-id': 'long-1' } })
  t.equal(long.statusCode, 414)
  t.same(long.json(), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH', error: 'URI Too Long', message: 'A path segment is too long', requestId: 'long-1' })
  t.equal(long.headers['x-request-id'], 'long-1')
  t.notMatch(long.body, /xxxxx/)

  const bad = await app.inject({ url: '/api/v1/users/%E0%A4%A/profile', headers })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { statusCode: 400, code: 'FST_ERR_BAD_URL', error: 'Bad Request', message: 'The URL is malformed' })
  t.type(bad.json().requestId, 'string')
})
