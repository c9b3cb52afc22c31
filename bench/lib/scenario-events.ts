import { createServer, type IncomingMessage } from 'node:http'
import { Webhook } from 'standardwebhooks'
import { cpuMsOf } from './processes.ts'
import type { Target } from './scenarios-http.ts'

// Events end to end: users join a competition through the API, each join commits a
// participant.joined event in its transaction (the outbox), the relay hands it to the job
// queue, the webhooks consumer fans it out and a delivery job POSTs it, signed, to a receiver
// in this process that verifies every signature. Measured: events delivered per second from the
// first join to the last delivery, and each event's time from its join's answer (just after
// its commit) to its delivery.

export interface EventsResult {
  events: number
  delivered: number
  invalidSignatures: number
  eventsPerSecond: number
  latencyMs: { p50: number, p95: number, p99: number, max: number }
  serviceCpuMsPerEvent: number
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0

async function body (req: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return text
}

async function call (t: Target, method: string, path: string, payload: unknown, token = t.tokens.service): Promise<any> {
  const res = await fetch(`${t.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return await res.json()
}

export async function eventsEndToEnd (t: Target, opts: { events: number, concurrency: number, timeoutMs?: number }): Promise<EventsResult> {
  const arrivals = new Map<string, number>()
  let invalid = 0
  let verify: Webhook | null = null
  const server = createServer((req, res) => {
    body(req).then((text) => {
      try {
        verify!.verify(text, req.headers as Record<string, string>)
        const event = JSON.parse(text) as { data: { userId: string } }
        if (!arrivals.has(event.data.userId)) arrivals.set(event.data.userId, performance.now())
      } catch {
        invalid++
      }
      res.writeHead(204).end()
    }, () => res.writeHead(400).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  try {
    const endpoint = await call(t, 'POST', '/api/v1/webhooks', { url: `http://127.0.0.1:${port}/hooks`, eventTypes: ['participant.joined'] })
    verify = new Webhook(endpoint.secret)
    const hour = 3_600_000
    const competition = await call(t, 'POST', '/api/v1/competitions', {
      name: 'Events bench', metric: 'steps', startsAt: new Date(Date.now() + hour).toISOString(), endsAt: new Date(Date.now() + 25 * hour).toISOString()
    })

    const answered = new Map<string, number>()
    const cpuBefore = cpuMsOf(t.pid)
    const started = performance.now()
    let next = 1
    await Promise.all(Array.from({ length: opts.concurrency }, async () => {
      while (next <= opts.events) {
        const user = next++
        const joined = await call(t, 'POST', `/api/v1/competitions/${competition.id}/join`, {}, t.tokens.user(user))
        answered.set(joined.userId, performance.now())
      }
    }))
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    while (arrivals.size < opts.events && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    const cpuMs = cpuMsOf(t.pid) - cpuBefore
    const last = Math.max(...arrivals.values())
    const latencies = [...arrivals].map(([userId, at]) => at - (answered.get(userId) ?? at)).sort((a, b) => a - b)
    return {
      events: opts.events,
      delivered: arrivals.size,
      invalidSignatures: invalid,
      eventsPerSecond: Math.round(arrivals.size / ((last - started) / 1000)),
      latencyMs: { p50: Math.round(percentile(latencies, 0.5)), p95: Math.round(percentile(latencies, 0.95)), p99: Math.round(percentile(latencies, 0.99)), max: Math.round(latencies.at(-1) ?? 0) },
      serviceCpuMsPerEvent: Math.round(100 * cpuMs / Math.max(1, arrivals.size)) / 100
    }
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}
