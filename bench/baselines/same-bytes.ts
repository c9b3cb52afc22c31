import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

// A bare Fastify sending, from memory, the very bytes the service answers GET top 50 with
// (its body and headers, read from the file named on the command line): what writing that
// response costs on this machine with no work behind it.
const port = Number(process.argv[2] ?? 0)
const { body, headers } = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as { body: string, headers: Record<string, string> }
const server = Fastify({ logger: false })

server.get('/', async function sameBytes (_request, reply) {
  return await reply.headers(headers).send(body)
})

await server.listen({ host: '127.0.0.1', port })
process.send?.({ ready: true, port: (server.server.address() as { port: number }).port })
process.on('SIGTERM', () => { server.close().then(() => process.exit(0), () => process.exit(1)) })
