import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { addDays, zoneDay, zoneDayStart } from '../../../services/shared/time-zones.ts'

// A stand-in for Google Fit's REST API on 127.0.0.1, speaking its wire shape:
// POST /fitness/v1/users/me/dataset:aggregate with aggregateBy and bucketByTime (durationMillis
// or a day period in a time zone); answers { bucket: [{ startTimeMillis, endTimeMillis,
// dataset: [{ dataSourceId, point: [{ startTimeNanos, endTimeNanos, dataTypeName, value }] }] }] }
// with int64 fields as strings, as Google sends them. Failures can be scripted per request.

export interface DayData { steps?: number, distance?: number, activeMinutes?: number }

export interface ScriptedReply {
  status: number
  headers?: Record<string, string>
  // Hold the answer this long (timeouts).
  delayMs?: number
}

export interface FakeRequest {
  at: number
  authorization: string | undefined
  body: Record<string, any>
  status: number
}

const SOURCES: Record<string, { source: string, field: 'intVal' | 'fpVal', key: keyof DayData }> = {
  'com.google.step_count.delta': { source: 'derived:com.google.step_count.delta:com.google.android.gms:aggregated', field: 'intVal', key: 'steps' },
  'com.google.distance.delta': { source: 'derived:com.google.distance.delta:com.google.android.gms:aggregated', field: 'fpVal', key: 'distance' },
  'com.google.active_minutes': { source: 'derived:com.google.active_minutes:com.google.android.gms:aggregated', field: 'intVal', key: 'activeMinutes' }
}

async function readJson (req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

function buckets (body: Record<string, any>): Array<{ start: number, end: number, day: string, zone: string }> {
  const start = Number(body.startTimeMillis)
  const end = Number(body.endTimeMillis)
  const period = body.bucketByTime?.period
  const out: Array<{ start: number, end: number, day: string, zone: string }> = []
  if (period !== undefined) {
    const zone: string = period.timeZoneId ?? 'UTC'
    for (let day = zoneDay(new Date(start), zone); zoneDayStart(day, zone).getTime() < end; day = addDays(day, Number(period.value ?? 1))) {
      out.push({ start: zoneDayStart(day, zone).getTime(), end: zoneDayStart(addDays(day, Number(period.value ?? 1)), zone).getTime(), day, zone })
    }
  } else {
    const size = Number(body.bucketByTime?.durationMillis)
    for (let t = start; t < end; t += size) out.push({ start: t, end: Math.min(t + size, end), day: zoneDay(new Date(t), 'UTC'), zone: 'UTC' })
  }
  return out
}

export async function startGoogleFitFake (opts: { token: string }) {
  const days = new Map<string, DayData>()
  const script: ScriptedReply[] = []
  const requests: FakeRequest[] = []
  let failing: ScriptedReply | null = null

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req)
    const record = (status: number): void => { requests.push({ at: Date.now(), authorization: req.headers.authorization, body, status }) }
    if (req.method !== 'POST' || req.url !== '/fitness/v1/users/me/dataset:aggregate') {
      record(404)
      res.writeHead(404).end()
      return
    }
    const scripted = script.shift() ?? failing
    if (scripted !== null) {
      record(scripted.status)
      if (scripted.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, scripted.delayMs))
      if (res.destroyed) return
      res.writeHead(scripted.status, { 'content-type': 'application/json', ...scripted.headers })
      res.end(JSON.stringify({ error: { code: scripted.status, message: 'scripted failure', status: 'UNAVAILABLE' } }))
      return
    }
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      record(401)
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }))
      return
    }
    record(200)
    const types: string[] = (body.aggregateBy ?? []).map((a: { dataTypeName: string }) => a.dataTypeName)
    const bucket = buckets(body).map((b) => ({
      startTimeMillis: String(b.start),
      endTimeMillis: String(b.end),
      dataset: types.map((type) => {
        const meta = SOURCES[type]
        const value = meta === undefined ? undefined : days.get(b.day)?.[meta.key]
        return {
          dataSourceId: meta?.source ?? `derived:${type}:aggregated`,
          point: value === undefined || meta === undefined
            ? []
            : [{
                startTimeNanos: `${b.start}000000`,
                endTimeNanos: `${b.end}000000`,
                dataTypeName: type,
                originDataSourceId: 'raw:com.google.step_count.cumulative:fake:phone',
                value: [{ [meta.field]: value, mapVal: [] }]
              }]
        }
      })
    }))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ bucket }))
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => res.destroy(err))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    setDay (day: string, data: DayData): void { days.set(day, data) },
    // The next requests get these answers, in order, then normal service resumes.
    enqueue (...replies: ScriptedReply[]): void { script.push(...replies) },
    // Every request fails this way until called with null.
    fail (reply: ScriptedReply | null): void { failing = reply },
    async close (): Promise<void> {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

export type GoogleFitFake = Awaited<ReturnType<typeof startGoogleFitFake>>
