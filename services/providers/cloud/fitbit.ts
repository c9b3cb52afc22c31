import { createHmac } from 'node:crypto'
import type { Metric } from '../../../schemas/fitness.ts'
import { ProviderHttpError } from '../types.ts'
import { amount, daySummaries, eachDay } from './days.ts'
import { bearerTokens, type ProviderHttp } from './http.ts'
import { jsonBody, sameBytes } from './webhook-body.ts'
import type { ClientCredentials, CloudProvider, InboundWebhook, Notification, WebhookOutcome } from './types.ts'

// Fitbit Web API. OAuth 2.0 with PKCE; the token endpoint takes HTTP Basic client
// authentication and answers the account id as `user_id`; refresh tokens are single-use.
// Webhooks are subscriptions per user to the activities collection: the subscriber endpoint is
// verified with GET ?verify=<code> (204 for ours, 404 otherwise), notifications are signed with
// X-Fitbit-Signature = base64(HMAC-SHA1(body, client secret + '&')) and say only which day of
// which user changed, so the day's summary is fetched by a job.

export interface FitbitOptions {
  credentials: ClientCredentials
  // https://api.fitbit.com in production.
  apiUrl: string
  // https://www.fitbit.com/oauth2/authorize in production.
  authorizeUrl: string
  // The verification code shown when the subscriber is added in the Fitbit developer console.
  verificationCode: string
  // The subscriber id of our endpoint in that console (sent when subscribing a user).
  subscriberId: string
  http: ProviderHttp
}

interface DaySummary {
  summary?: {
    steps?: unknown
    activityCalories?: unknown
    fairlyActiveMinutes?: unknown
    veryActiveMinutes?: unknown
    distances?: Array<{ activity?: unknown, distance?: unknown }>
  }
}

function signatureMatches (body: Buffer, header: string | undefined, secret: string): boolean {
  return header !== undefined && sameBytes(Buffer.from(header, 'base64'), createHmac('sha1', `${secret}&`).update(body).digest())
}

// Activity calories (not caloriesOut, which includes the basal rate); active minutes are the
// fairly and very active ones; distance in kilometres without an Accept-Language header.
export function fitbitDayValues (body: DaySummary): Partial<Record<Metric, number>> {
  const s = body.summary
  if (s === undefined) throw new ProviderHttpError('Fitbit', 502)
  const km = amount(s.distances?.find((d) => d.activity === 'total')?.distance) ?? 0
  return {
    steps: amount(s.steps) ?? 0,
    distance_m: Math.round(km * 1000 * 1000) / 1000,
    active_kcal: amount(s.activityCalories) ?? 0,
    active_minutes: (amount(s.fairlyActiveMinutes) ?? 0) + (amount(s.veryActiveMinutes) ?? 0)
  }
}

export function createFitbitProvider (opts: FitbitOptions): CloudProvider {
  const api = (path: string): string => new URL(path, opts.apiUrl).toString()

  function webhook (request: InboundWebhook): WebhookOutcome {
    if (request.method === 'GET') {
      return request.query.verify === opts.verificationCode
        ? { kind: 'handshake', status: 204 }
        : { kind: 'refused', status: 404, reason: 'unknown verification code' }
    }
    // Fitbit's rule: a notification whose signature does not verify is answered 404.
    if (!signatureMatches(request.body, request.headers['x-fitbit-signature'], opts.credentials.clientSecret)) {
      return { kind: 'refused', status: 404, reason: 'signature does not verify' }
    }
    const items = jsonBody(request.body)
    if (!Array.isArray(items)) return { kind: 'refused', status: 400, reason: 'body is not an array of notifications' }
    const notifications: Notification[] = []
    for (const item of items as Array<Record<string, unknown>>) {
      if (item.collectionType === 'userRevokedAccess' && typeof item.ownerId === 'string') {
        notifications.push({ externalUserId: item.ownerId, work: { kind: 'deauthorized' } })
      } else if (item.collectionType === 'activities' && typeof item.ownerId === 'string' && typeof item.date === 'string' &&
        /^\d{4}-\d{2}-\d{2}$/.test(item.date)) {
        notifications.push({ externalUserId: item.ownerId, work: { kind: 'day', day: item.date } })
      }
    }
    return { kind: 'notifications', status: 204, items: notifications }
  }

  async function fetchDay (day: string, accessToken: string): Promise<{ day: string, values: Partial<Record<Metric, number>> }> {
    const body = await opts.http.request<DaySummary>(api(`/1/user/-/activities/date/${day}.json`), { accessToken })
    return { day, values: fitbitDayValues(body ?? {}) }
  }

  return {
    name: 'fitbit',
    source: 'fitbit',
    label: 'Fitbit',
    authorizeUrl: opts.authorizeUrl,
    tokenUrl: api('/oauth2/token'),
    scopes: ['activity', 'profile'],
    clientAuth: 'basic',
    readTokens: (body, now) => bearerTokens(body, now, typeof body.user_id === 'string' ? body.user_id : null),
    webhook,
    async subscribe (accessToken, externalUserId) {
      // One subscription per user, named after the account: subscribing again is a 409 that
      // means it exists already.
      try {
        await opts.http.request(api(`/1/user/-/activities/apiSubscriptions/${encodeURIComponent(externalUserId)}.json`), {
          method: 'POST', accessToken, headers: { 'x-fitbit-subscriber-id': opts.subscriberId }
        })
      } catch (err) {
        if ((err as { providerStatus?: number }).providerStatus !== 409) throw err
      }
    },
    async fetchWork (work, ctx) {
      if (work.kind !== 'day') return { samples: [], deletions: [] }
      return { samples: daySummaries([await fetchDay(work.day, ctx.accessToken)], ctx.timeZone, new Date()), deletions: [] }
    },
    async fetchDays (from, to, ctx) {
      const days = []
      for (const day of eachDay(from, to)) days.push(await fetchDay(day, ctx.accessToken))
      return { samples: daySummaries(days, ctx.timeZone, new Date()), deletions: [] }
    },
    async revoke ({ accessToken }) {
      await opts.http.request(api('/oauth2/revoke'), { form: { token: accessToken }, basic: opts.credentials })
    }
  }
}
