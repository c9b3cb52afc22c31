import type { DeletionInput, Metric, SampleInput } from '../../../schemas/fitness.ts'
import { zoneDayStart, addDays } from '../../shared/time-zones.ts'
import { amount } from './days.ts'
import { bearerTokens, type ProviderHttp } from './http.ts'
import { isObject, jsonBody } from './webhook-body.ts'
import type { ClientCredentials, CloudProvider, InboundWebhook, WebhookOutcome } from './types.ts'

// Strava API v3. OAuth 2.0 with the client secret in the form; the token answer names the
// athlete. Webhooks come from one push subscription per application: the subscription is
// validated with hub.challenge and our verify token, and events are not signed, so an event is
// believed only for our subscription id and its activity is always read from Strava's API with
// the athlete's token. Activities are interval samples (distance, calories, moving minutes),
// never daily totals: Strava records workouts, not whole days.

export interface StravaOptions {
  credentials: ClientCredentials
  // https://www.strava.com in production.
  apiUrl: string
  verifyToken: string
  subscriptionId: string
  http: ProviderHttp
}

interface Activity {
  id?: unknown
  start_date?: unknown
  elapsed_time?: unknown
  moving_time?: unknown
  distance?: unknown
  calories?: unknown
  manual?: unknown
  utc_offset?: unknown
  device_name?: unknown
}

const METRICS: Metric[] = ['distance_m', 'active_kcal', 'active_minutes']
const externalId = (id: string, metric: Metric): string => `activity:${id}:${metric}`

// One sample per metric the activity reports. The version is the read time: a re-read of an
// unchanged activity rewrites nothing, an edited one replaces the earlier read.
export function activitySamples (a: Activity, readAt: number): SampleInput[] {
  const id = typeof a.id === 'number' || typeof a.id === 'string' ? String(a.id) : undefined
  const start = typeof a.start_date === 'string' ? Date.parse(a.start_date) : NaN
  // A record spans at most 25 hours; a longer activity (an ultra) counts its first 25.
  const elapsed = Math.min(amount(a.elapsed_time) ?? NaN, 25 * 3600)
  if (id === undefined || Number.isNaN(start) || Number.isNaN(elapsed)) return []
  const values: Partial<Record<Metric, number>> = {
    distance_m: amount(a.distance),
    active_kcal: amount(a.calories),
    active_minutes: amount(a.moving_time) === undefined ? undefined : Math.floor(amount(a.moving_time)! / 60)
  }
  const offset = Math.round((typeof a.utc_offset === 'number' ? a.utc_offset : 0) / 60)
  const device = typeof a.device_name === 'string' && a.device_name !== '' ? { type: 'other' as const, name: a.device_name.slice(0, 100) } : undefined
  return METRICS.filter((m) => values[m] !== undefined).map((metric) => ({
    externalId: externalId(id, metric),
    version: readAt,
    metric,
    kind: 'sample' as const,
    startTime: new Date(start).toISOString(),
    endTime: new Date(start + elapsed * 1000).toISOString(),
    value: values[metric]!,
    recordingMethod: a.manual === true ? 'manual' as const : 'active' as const,
    tzOffsetMinutes: Math.max(-840, Math.min(840, offset)),
    ...(device !== undefined && { device })
  }))
}

export function createStravaProvider (opts: StravaOptions): CloudProvider {
  const api = (path: string): string => new URL(path, opts.apiUrl).toString()

  function webhook (request: InboundWebhook): WebhookOutcome {
    if (request.method === 'GET') {
      const { query } = request
      if (query['hub.mode'] !== 'subscribe' || query['hub.verify_token'] !== opts.verifyToken || query['hub.challenge'] === undefined) {
        return { kind: 'refused', status: 403, reason: 'unknown verify token' }
      }
      return { kind: 'handshake', status: 200, body: { 'hub.challenge': query['hub.challenge'] } }
    }
    const event = jsonBody(request.body)
    if (!isObject(event)) return { kind: 'refused', status: 400, reason: 'body is not an event' }
    if (String(event.subscription_id) !== opts.subscriptionId) return { kind: 'refused', status: 403, reason: 'not our subscription' }
    const owner = event.owner_id
    if (typeof owner !== 'number' && typeof owner !== 'string') return { kind: 'refused', status: 400, reason: 'owner_id is missing' }
    const externalUserId = String(owner)
    const updates = isObject(event.updates) ? event.updates : {}
    if (event.object_type === 'athlete' && String(updates.authorized) === 'false') {
      return { kind: 'notifications', status: 200, items: [{ externalUserId, work: { kind: 'deauthorized' } }] }
    }
    if (event.object_type !== 'activity') return { kind: 'notifications', status: 200, items: [] }
    const id = String(event.object_id)
    return { kind: 'notifications', status: 200, items: [{ externalUserId, work: { kind: 'object', id, deleted: event.aspect_type === 'delete' } }] }
  }

  return {
    name: 'strava',
    source: 'strava',
    label: 'Strava',
    authorizeUrl: api('/oauth/authorize'),
    tokenUrl: api('/oauth/token'),
    scopes: ['read', 'activity:read_all'],
    scopeSeparator: ',',
    clientAuth: 'body',
    readTokens (body, now) {
      const athlete = isObject(body.athlete) ? body.athlete.id : undefined
      const tokens = bearerTokens(body, now, athlete === undefined ? null : String(athlete))
      // expires_at (epoch seconds) is the authority; expires_in is relative to Strava's clock.
      return typeof body.expires_at === 'number' ? { ...tokens, expiresAt: new Date(body.expires_at * 1000) } : tokens
    },
    webhook,
    async fetchWork (work, ctx) {
      if (work.kind !== 'object') return { samples: [], deletions: [] }
      const deleted = { samples: [], deletions: METRICS.map((m): DeletionInput => ({ externalId: externalId(work.id, m) })) }
      if (work.deleted) return deleted
      try {
        const activity = await opts.http.request<Activity>(api(`/api/v3/activities/${encodeURIComponent(work.id)}`), { accessToken: ctx.accessToken })
        return { samples: activitySamples(activity ?? {}, Date.now()), deletions: [] }
      } catch (err) {
        // Deleted or made private before the job ran: it no longer counts (not retried for hours).
        if ((err as { providerStatus?: number }).providerStatus === 404) return deleted
        throw err
      }
    },
    // The athlete's activities that started in the range (summaries carry no calories, so
    // each is read in full, as a webhook would have).
    async fetchDays (from, to, ctx) {
      const after = Math.floor(zoneDayStart(from, ctx.timeZone).getTime() / 1000)
      const before = Math.floor(zoneDayStart(addDays(to, 1), ctx.timeZone).getTime() / 1000)
      const samples: SampleInput[] = []
      for (let page = 1; ; page++) {
        const list = await opts.http.request<Activity[]>(api(`/api/v3/athlete/activities?after=${after}&before=${before}&per_page=100&page=${page}`), { accessToken: ctx.accessToken })
        for (const summary of list ?? []) {
          const detail = await opts.http.request<Activity>(api(`/api/v3/activities/${String(summary.id)}`), { accessToken: ctx.accessToken })
          samples.push(...activitySamples(detail ?? {}, Date.now()))
        }
        if ((list ?? []).length < 100) break
      }
      return { samples, deletions: [] }
    },
    async revoke ({ accessToken }) {
      await opts.http.request(api('/oauth/deauthorize'), { form: { access_token: accessToken } })
    }
  }
}
