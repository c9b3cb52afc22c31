// Oura API v2 on 127.0.0.1: OAuth (client secret in the form), personal_info, daily activity
// documents and signed webhook notifications, in Oura's documented shapes.
import { createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, replyJson, serveLocal } from './http.ts'
import { createOAuthFake } from './oauth-provider.ts'

export interface OuraDay { steps: number, walkingMetres?: number, activeCalories?: number, highSeconds?: number, mediumSeconds?: number }

export async function startOuraFake (opts: { clientId: string, clientSecret: string, accountId: string }) {
  const oauth = createOAuthFake({ ...opts, clientAuth: 'body' })
  // document id -> day
  const docs = new Map<string, { day: string } & OuraDay>()
  const reads: string[] = []
  const revoked: string[] = []

  const document = (id: string, d: { day: string } & OuraDay) => ({
    id,
    class_5_min: null,
    score: 82,
    active_calories: d.activeCalories ?? 0,
    average_met_minutes: 1.4,
    equivalent_walking_distance: d.walkingMetres ?? 0,
    high_activity_time: d.highSeconds ?? 0,
    medium_activity_time: d.mediumSeconds ?? 0,
    low_activity_time: 12000,
    steps: d.steps,
    total_calories: 2300,
    day: d.day,
    timestamp: `${d.day}T04:00:00+00:00`
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://oura')
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const answer = oauth.token(req, raw)
      return replyJson(res, answer.status, answer.body)
    }
    if (url.pathname === '/oauth/revoke') {
      const token = url.searchParams.get('access_token') ?? ''
      revoked.push(token)
      oauth.revoke(token)
      return replyJson(res, 200, {})
    }
    if (!oauth.authorized(req)) return replyJson(res, 401, { detail: 'Unauthorized' })
    if (url.pathname === '/v2/usercollection/personal_info') {
      return replyJson(res, 200, { id: opts.accountId, age: 31, weight: 62.5, height: 1.7, biological_sex: 'female', email: 'a@example.test' })
    }
    const one = /^\/v2\/usercollection\/daily_activity\/([^/]+)$/.exec(url.pathname)
    if (one !== null) {
      const id = decodeURIComponent(one[1]!)
      const d = docs.get(id)
      if (d === undefined) return replyJson(res, 404, { detail: 'Not Found' })
      reads.push(id)
      return replyJson(res, 200, document(id, d))
    }
    if (url.pathname === '/v2/usercollection/daily_activity') {
      const from = url.searchParams.get('start_date') ?? ''
      const to = url.searchParams.get('end_date') ?? ''
      const data = [...docs.entries()].filter(([, d]) => d.day >= from && d.day <= to).map(([id, d]) => document(id, d))
      // Two pages, as Oura pages with next_token.
      if (url.searchParams.get('next_token') === null && data.length > 1) return replyJson(res, 200, { data: data.slice(0, 1), next_token: 'page-2' })
      return replyJson(res, 200, { data: url.searchParams.get('next_token') === null ? data : data.slice(1), next_token: null })
    }
    replyJson(res, 404, { detail: 'Not Found' })
  }
  const { url, close } = await serveLocal(handle, (err) => ({ detail: String(err) }))

  return {
    url,
    close,
    oauth,
    reads,
    revoked,
    setDocument: (id: string, d: { day: string } & OuraDay) => docs.set(id, d),
    // A notification as Oura sends it: HMAC-SHA256 of timestamp + body, upper-case hex.
    notification (objectId: string, o: { secret?: string, timestamp?: string, eventType?: string, dataType?: string } = {}) {
      const body = JSON.stringify({ event_type: o.eventType ?? 'update', data_type: o.dataType ?? 'daily_activity', object_id: objectId, event_time: new Date().toISOString(), user_id: opts.accountId })
      const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000))
      const signature = createHmac('sha256', o.secret ?? opts.clientSecret).update(timestamp + body).digest('hex').toUpperCase()
      return { body, headers: { 'content-type': 'application/json', 'x-oura-signature': signature, 'x-oura-timestamp': timestamp } }
    }
  }
}
