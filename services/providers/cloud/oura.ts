import { createHmac } from 'node:crypto'
import type { Metric } from '../../../schemas/fitness.ts'
import { addDays } from '../../shared/time-zones.ts'
import { amount, daySummaries } from './days.ts'
import { bearerTokens, type ProviderHttp } from './http.ts'
import { isObject, jsonBody, sameBytes } from './webhook-body.ts'
import type { ClientCredentials, CloudProvider, InboundWebhook, WebhookOutcome } from './types.ts'

// Oura API v2. OAuth 2.0 with the client secret in the form; the account id comes from
// personal_info. Webhook subscriptions are per application; the callback is verified with our
// verification token and a challenge, and notifications are signed: x-oura-signature is the
// HMAC-SHA256 (hex) of the x-oura-timestamp value followed by the body, keyed with the client
// secret. A notification names a daily_activity document, read by a job and stored as the
// day's totals.

export interface OuraOptions {
  credentials: ClientCredentials
  // https://api.ouraring.com in production.
  apiUrl: string
  authorizeUrl: string
  verificationToken: string
  http: ProviderHttp
  // How old a signed timestamp may be (replays later than this are refused).
  toleranceSeconds?: number
}

interface DailyActivity {
  id?: unknown
  day?: unknown
  steps?: unknown
  equivalent_walking_distance?: unknown
  active_calories?: unknown
  high_activity_time?: unknown
  medium_activity_time?: unknown
}

export function ouraDay (doc: DailyActivity): { day: string, values: Partial<Record<Metric, number>> } | null {
  if (typeof doc.day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(doc.day)) return null
  return {
    day: doc.day,
    values: {
      steps: amount(doc.steps) ?? 0,
      distance_m: amount(doc.equivalent_walking_distance) ?? 0,
      active_kcal: amount(doc.active_calories) ?? 0,
      active_minutes: Math.floor(((amount(doc.high_activity_time) ?? 0) + (amount(doc.medium_activity_time) ?? 0)) / 60)
    }
  }
}

// Seconds since the epoch or an ISO date, as the header may carry either.
function timestampMs (value: string): number {
  return /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value)
}

export function createOuraProvider (opts: OuraOptions): CloudProvider {
  const api = (path: string): string => new URL(path, opts.apiUrl).toString()
  const toleranceMs = (opts.toleranceSeconds ?? 300) * 1000

  function signed (request: InboundWebhook): boolean {
    const signature = request.headers['x-oura-signature']
    const timestamp = request.headers['x-oura-timestamp']
    if (signature === undefined || timestamp === undefined || !/^[0-9a-fA-F]{64}$/.test(signature)) return false
    const expected = createHmac('sha256', opts.credentials.clientSecret).update(timestamp).update(request.body).digest()
    return sameBytes(Buffer.from(signature, 'hex'), expected)
  }

  function webhook (request: InboundWebhook): WebhookOutcome {
    if (request.method === 'GET') {
      const { query } = request
      if (query.verification_token !== opts.verificationToken || query.challenge === undefined) {
        return { kind: 'refused', status: 401, reason: 'unknown verification token' }
      }
      return { kind: 'handshake', status: 200, body: { challenge: query.challenge } }
    }
    if (!signed(request)) return { kind: 'refused', status: 401, reason: 'signature does not verify' }
    const sentAt = timestampMs(request.headers['x-oura-timestamp']!)
    if (Number.isNaN(sentAt) || Math.abs(Date.now() - sentAt) > toleranceMs) return { kind: 'refused', status: 401, reason: 'timestamp outside the tolerance' }
    const event = jsonBody(request.body)
    if (!isObject(event) || typeof event.user_id !== 'string' || typeof event.object_id !== 'string') {
      return { kind: 'refused', status: 400, reason: 'body is not a notification' }
    }
    // Only daily activity counts towards competitions; other data types are acknowledged.
    if (event.data_type !== 'daily_activity') return { kind: 'notifications', status: 200, items: [] }
    return {
      kind: 'notifications',
      status: 200,
      items: [{ externalUserId: event.user_id, work: { kind: 'object', id: event.object_id, deleted: event.event_type === 'delete' } }]
    }
  }

  return {
    name: 'oura',
    source: 'oura',
    label: 'Oura',
    authorizeUrl: opts.authorizeUrl,
    tokenUrl: api('/oauth/token'),
    scopes: ['daily', 'personal'],
    clientAuth: 'body',
    readTokens: (body, now) => bearerTokens(body, now, null),
    async fetchUserId (accessToken) {
      const info = await opts.http.request<{ id?: unknown }>(api('/v2/usercollection/personal_info'), { accessToken })
      if (typeof info?.id !== 'string') throw new Error('Oura personal_info has no id')
      return info.id
    },
    webhook,
    // A deleted document names no day: it is left to the next reconciliation, which stores
    // the day as Oura then reports it.
    async fetchWork (work, ctx) {
      if (work.kind !== 'object' || work.deleted) return { samples: [], deletions: [] }
      const doc = await opts.http.request<DailyActivity>(api(`/v2/usercollection/daily_activity/${encodeURIComponent(work.id)}`), { accessToken: ctx.accessToken })
      const day = ouraDay(doc ?? {})
      return { samples: day === null ? [] : daySummaries([day], ctx.timeZone, new Date()), deletions: [] }
    },
    async fetchDays (from, to, ctx) {
      const days = []
      let nextToken: string | null = null
      do {
        // Oura filters the list by each document's timestamp (early morning local time), so a
        // day's own document can fall outside a range of bare dates: ask a day wider, keep the range.
        const query: URLSearchParams = new URLSearchParams({
          start_date: addDays(from, -1), end_date: addDays(to, 1), ...(nextToken !== null && { next_token: nextToken })
        })
        const page: { data?: DailyActivity[], next_token?: string | null } | null =
          await opts.http.request(api(`/v2/usercollection/daily_activity?${query.toString()}`), { accessToken: ctx.accessToken })
        for (const doc of page?.data ?? []) {
          const day = ouraDay(doc)
          if (day !== null && day.day >= from && day.day <= to) days.push(day)
        }
        nextToken = typeof page?.next_token === 'string' && page.next_token !== '' ? page.next_token : null
      } while (nextToken !== null)
      return { samples: daySummaries(days, ctx.timeZone, new Date()), deletions: [] }
    },
    async revoke ({ accessToken }) {
      await opts.http.request(api(`/oauth/revoke?access_token=${encodeURIComponent(accessToken)}`), { method: 'POST' })
    }
  }
}
