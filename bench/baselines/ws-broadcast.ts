import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

// The bare `ws` baseline for the WebSocket scenarios: accepts sockets, sends each a first frame
// of ?first=<bytes> (the size of the service's snapshot, so both do the same protocol work per
// connection) and, on command, sends one payload to every open socket (the same payload and
// socket count as the service).
// POST /broadcast with the payload as body sends it once; POST /stream?rate=N&seconds=S sends
// it N times per second for S seconds.
const port = Number(process.argv[2] ?? 0)
const sockets = new Set<WebSocket>()
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 })

function broadcast (payload: string): void {
  for (const socket of sockets) if (socket.readyState === 1) socket.send(payload)
}

async function readBody (req: import('node:http').IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const server = createServer(function handle (req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost')
  readBody(req).then((payload) => {
    if (req.method === 'POST' && url.pathname === '/broadcast') {
      broadcast(payload)
      res.end('ok')
    } else if (req.method === 'POST' && url.pathname === '/stream') {
      const rate = Number(url.searchParams.get('rate') ?? 10)
      const until = Date.now() + Number(url.searchParams.get('seconds') ?? 10) * 1000
      const timer = setInterval(() => {
        if (Date.now() >= until) { clearInterval(timer); return }
        broadcast(payload)
      }, 1000 / rate)
      res.end('ok')
    } else {
      res.statusCode = 404
      res.end()
    }
  }, () => { res.statusCode = 400; res.end() })
})

server.on('upgrade', (req, socket, head) => {
  const first = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('first') ?? 0)
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.add(ws)
    if (first > 0) ws.send(`{"type":"snapshot","pad":"${'x'.repeat(Math.max(0, first - 32))}"}`)
    ws.on('close', () => sockets.delete(ws))
  })
})

server.listen(port, '127.0.0.1', () => {
  process.send?.({ ready: true, port: (server.address() as { port: number }).port })
})
process.on('SIGTERM', () => {
  for (const s of sockets) s.terminate()
  server.close(() => process.exit(0))
})
