// What the HTTP fakes of third-party providers share: reading a request body (gzipped too),
// answering JSON, listening on a spare loopback port and closing with the kept-alive
// connections the real SDKs hold.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { gunzipSync } from 'node:zlib'

export async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const raw = Buffer.concat(chunks)
  return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')
}

export function replyJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

// Listens on 127.0.0.1 at a port the system picks; its base URL and a close() that does not
// wait for the clients' idle connections to time out.
export async function listenLocal (server: Server): Promise<{ url: string, close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    async close () {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}

// A fake whose handler is async: a handler that throws answers 500 with the provider's error body.
export async function serveLocal (handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, errorBody: (err: unknown) => unknown) {
  return await listenLocal(createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { if (!res.headersSent) replyJson(res, 500, errorBody(err)) })
  }))
}
