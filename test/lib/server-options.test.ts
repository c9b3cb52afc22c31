import t from 'tap'
import Fastify from 'fastify'
import { serverOptions } from '../../lib/server-options.ts'

// Tokens in query strings (WebSocket upgrades, the live page's development link) must never
// reach the request logs.
t.test('request logs show the URL without the token', async (t) => {
  const lines: string[] = []
  const options = serverOptions({ LOG_LEVEL: 'info' })
  const app = Fastify({ ...options, logger: { ...(options.logger as object), transport: undefined, stream: { write: (line: string) => lines.push(line) } } })
  app.get('/ws/leaderboard/:id', async () => 'ok')
  t.teardown(async () => await app.close())

  await app.inject({ url: '/ws/leaderboard/abc?seq=4&token=eyJhbGciOi.secret.part&limit=10' })
  const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.req)
  t.equal(logged?.req.url, '/ws/leaderboard/abc?seq=4&token=[Redacted]&limit=10')
  t.notMatch(lines.join('\n'), /secret/)
})
