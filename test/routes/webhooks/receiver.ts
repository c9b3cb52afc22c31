import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

// An integrator's webhook endpoint on 127.0.0.1: it verifies the signature of every request it
// gets with the Standard Webhooks library (as an integrator would), records it, and answers as
// the test tells it: 2xx, an error status, nothing at all (a hang), or a reset connection.

export type Answer = number | 'hang' | 'reset'

export interface ReceivedRequest {
  webhookId: string
  timestamp: string
  verified: boolean
  body: { type: string, timestamp: string, data: Record<string, unknown> & { eventId: string } } | null
  answer: Answer
  at: number
}

export interface Receiver {
  url: string
  requests: ReceivedRequest[]
  // The messages taken in effect (answered 2xx), one per webhook-id: what a deduplicating
  // receiver keeps.
  accepted: Map<string, ReceivedRequest>
  connections: number
  secret: string
  answer: (request: ReceivedRequest) => Answer
  close: () => Promise<void>
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startReceiver (t: { teardown: (fn: () => unknown) => void }): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    requests: [],
    accepted: new Map(),
    connections: 0,
    secret: '',
    answer: () => 204,
    close: async () => {}
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req)
    const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(req.headers[h] ?? '')]))
    let verified = false
    let body: ReceivedRequest['body'] = null
    try {
      body = new Webhook(receiver.secret).verify(raw, headers) as ReceivedRequest['body']
      verified = true
    } catch {}
    const request: ReceivedRequest = { webhookId: headers['webhook-id']!, timestamp: headers['webhook-timestamp']!, verified, body, answer: 204, at: Date.now() }
    request.answer = receiver.answer(request)
    receiver.requests.push(request)
    if (request.answer === 'hang') return
    if (request.answer === 'reset') { req.socket.destroy(); return }
    res.statusCode = request.answer
    res.end(request.answer >= 400 ? 'receiver is down' : undefined)
    if (request.answer >= 200 && request.answer < 300 && verified && !receiver.accepted.has(request.webhookId)) receiver.accepted.set(request.webhookId, request)
  }

  const server = createServer((req, res) => { handle(req, res).catch(() => res.destroy()) })
  server.on('connection', () => { receiver.connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
  receiver.close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  t.teardown(receiver.close)
  return receiver
}

// Polls until the condition holds; the message says what was awaited when it never does.
export async function until (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
