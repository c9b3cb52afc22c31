import { createServer } from 'node:http'

// A JWKS endpoint on 127.0.0.1 that counts its requests; its key set and status can change.
export async function countingJwksServer (t: { teardown: (fn: () => void) => void }) {
  const state = { keys: [] as object[], status: 200, fetches: 0 }
  const server = createServer((_req, res) => {
    state.fetches++
    res.statusCode = state.status
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  return { state, url: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json` }
}
