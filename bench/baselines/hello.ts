import Fastify from 'fastify'

// The framework's own limit on this machine: a bare Fastify hello-world, no logger, no
// plugins. Every HTTP scenario is reported as a ratio to it, measured in the same run.
const port = Number(process.argv[2] ?? 0)
const server = Fastify({ logger: false })

server.get('/', async function hello () {
  return { hello: 'world' }
})

await server.listen({ host: '127.0.0.1', port })
process.send?.({ ready: true, port: (server.server.address() as { port: number }).port })
process.on('SIGTERM', () => { server.close().then(() => process.exit(0), () => process.exit(1)) })
