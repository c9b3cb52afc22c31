import type { Metric, SampleInput } from '../../../schemas/fitness.ts'
import { addDays, zoneDayStart } from '../../shared/time-zones.ts'
import { amount } from './days.ts'
import { bearerTokens, type ProviderHttp } from './http.ts'
import { isObject, jsonBody } from './webhook-body.ts'
import type { ClientCredentials, CloudProvider, InboundWebhook, Notification, WebhookOutcome } from './types.ts'

// Garmin Health API (Connect Developer Program), OAuth 2.0 with PKCE; the client secret goes in
// the token form and the account id is read from /user/id. Garmin sends daily summaries by push
// (the summaries in the body) or ping (callback URLs to fetch). Garmin signs neither, so a push
// is believed only for an account connected here, a ping's callback is fetched only from
// Garmin's own API origin, with the user's token, and a body naming another client
// (garmin-client-id) or not in Garmin's shape is refused. Backfill is asked of Garmin, which then
// pushes the days like any other.

export interface GarminOptions {
  credentials: ClientCredentials
  // https://apis.garmin.com in production.
  apiUrl: string
  tokenUrl: string
  authorizeUrl: string
  http: ProviderHttp
}

interface DailySummary {
  userId?: unknown
  summaryId?: unknown
  calendarDate?: unknown
  startTimeInSeconds?: unknown
  startTimeOffsetInSeconds?: unknown
  durationInSeconds?: unknown
  steps?: unknown
  distanceInMeters?: unknown
  activeKilocalories?: unknown
  moderateIntensityDurationInSeconds?: unknown
  vigorousIntensityDurationInSeconds?: unknown
}

// One daily total per metric, identified by the calendar day (Garmin re-sends a day's summary
// whole as it grows). The receipt time is the version: the latest summary replaces, a replayed
// one with the same figures rewrites nothing.
export function garminDailySamples (d: DailySummary, receivedAt: number): SampleInput[] {
  const start = amount(d.startTimeInSeconds)
  const duration = amount(d.durationInSeconds)
  if (typeof d.calendarDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(d.calendarDate) || start === undefined || duration === undefined) return []
  const offset = typeof d.startTimeOffsetInSeconds === 'number' ? Math.round(d.startTimeOffsetInSeconds / 60) : 0
  const minutes = (amount(d.moderateIntensityDurationInSeconds) ?? 0) + (amount(d.vigorousIntensityDurationInSeconds) ?? 0)
  const values: Partial<Record<Metric, number>> = {
    steps: amount(d.steps) ?? 0,
    distance_m: amount(d.distanceInMeters) ?? 0,
    active_kcal: amount(d.activeKilocalories) ?? 0,
    active_minutes: Math.floor(minutes / 60)
  }
  return (Object.entries(values) as Array<[Metric, number]>).map(([metric, value]) => ({
    externalId: `daily:${metric}:${d.calendarDate as string}`,
    version: receivedAt,
    metric,
    kind: 'daily_total' as const,
    startTime: new Date(start * 1000).toISOString(),
    endTime: new Date((start + Math.min(duration, 25 * 3600)) * 1000).toISOString(),
    value,
    recordingMethod: 'automatic' as const,
    tzOffsetMinutes: Math.max(-840, Math.min(840, offset))
  }))
}

// The lists Garmin posts to this endpoint (dailies by push or ping); a body with none of them,
// or with one that is not a list, is not a Garmin notification.
const LISTS = ['dailies', 'deregistrations', 'userPermissionsChange'] as const

export function createGarminProvider (opts: GarminOptions): CloudProvider {
  const api = (path: string): string => new URL(path, opts.apiUrl).toString()
  const apiOrigin = new URL(opts.apiUrl).origin

  function webhook (request: InboundWebhook): WebhookOutcome {
    if (request.method === 'GET') return { kind: 'refused', status: 404, reason: 'Garmin has no verification request' }
    // Garmin names the client in every notification; one naming another client is not for us.
    const clientId = request.headers['garmin-client-id']
    if (clientId !== undefined && clientId !== opts.credentials.clientId) return { kind: 'refused', status: 400, reason: 'garmin-client-id is not ours' }
    const body = jsonBody(request.body)
    // Summary types we do not read (epochs, sleeps, ...) are acknowledged, or Garmin would retry them.
    if (!isObject(body) || LISTS.some((k) => body[k] !== undefined && !Array.isArray(body[k]))) {
      return { kind: 'refused', status: 400, reason: 'body is not a Garmin notification' }
    }
    const items: Notification[] = []
    const receivedAt = Date.now()
    for (const d of (body.dailies ?? []) as unknown[]) {
      if (!isObject(d) || typeof d.userId !== 'string') return { kind: 'refused', status: 400, reason: 'a daily summary has no userId' }
      if (d.callbackURL !== undefined) {
        let url: URL
        try {
          url = new URL(String(d.callbackURL))
        } catch {
          return { kind: 'refused', status: 400, reason: 'callbackURL is not a URL' }
        }
        // Never fetch with a user's token from anywhere but Garmin's API.
        if (url.origin !== apiOrigin) return { kind: 'refused', status: 400, reason: 'callbackURL is not on Garmin\'s API' }
        items.push({ externalUserId: d.userId, work: { kind: 'callback', url: url.toString() } })
      } else {
        const samples = garminDailySamples(d, receivedAt)
        if (samples.length === 0) return { kind: 'refused', status: 400, reason: 'a daily summary has no calendarDate, start or duration' }
        items.push({ externalUserId: d.userId, work: { kind: 'records', samples } })
      }
    }
    for (const d of (body.deregistrations ?? []) as unknown[]) {
      if (!isObject(d) || typeof d.userId !== 'string') return { kind: 'refused', status: 400, reason: 'a deregistration has no userId' }
      items.push({ externalUserId: d.userId, work: { kind: 'deauthorized' } })
    }
    // userPermissionsChange: acknowledged; the token stays valid and data of a withdrawn
    // permission simply stops coming.
    return { kind: 'notifications', status: 200, items }
  }

  return {
    name: 'garmin',
    source: 'garmin',
    label: 'Garmin',
    authorizeUrl: opts.authorizeUrl,
    tokenUrl: opts.tokenUrl,
    scopes: [],
    clientAuth: 'body',
    readTokens: (body, now) => bearerTokens(body, now, null),
    async fetchUserId (accessToken) {
      const user = await opts.http.request<{ userId?: unknown }>(api('/wellness-api/rest/user/id'), { accessToken })
      if (typeof user?.userId !== 'string') throw new Error('Garmin user/id has no userId')
      return user.userId
    },
    webhook,
    async fetchWork (work, ctx) {
      if (work.kind !== 'callback' || new URL(work.url).origin !== apiOrigin) return { samples: [], deletions: [] }
      const dailies = await opts.http.request<DailySummary[]>(work.url, { accessToken: ctx.accessToken })
      const receivedAt = Date.now()
      return { samples: (Array.isArray(dailies) ? dailies : []).flatMap((d) => garminDailySamples(d, receivedAt)), deletions: [] }
    },
    // Garmin answers a backfill request with 202 and pushes the days later; a range it is
    // already backfilling answers 409.
    async fetchDays (from, to, ctx) {
      const start = Math.floor(zoneDayStart(from, ctx.timeZone).getTime() / 1000)
      const end = Math.floor(zoneDayStart(addDays(to, 1), ctx.timeZone).getTime() / 1000)
      try {
        await opts.http.request(api(`/wellness-api/rest/backfill/dailies?summaryStartTimeInSeconds=${start}&summaryEndTimeInSeconds=${end}`), { accessToken: ctx.accessToken })
      } catch (err) {
        if ((err as { providerStatus?: number }).providerStatus !== 409) throw err
      }
      return { samples: [], deletions: [] }
    },
    async revoke ({ accessToken }) {
      await opts.http.request(api('/wellness-api/rest/user/registration'), { method: 'DELETE', accessToken })
    }
  }
}
