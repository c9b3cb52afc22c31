// A Fitbit Web API on 127.0.0.1: the OAuth endpoints, subscriptions, the daily activity
// summary and signed subscription notifications, in Fitbit's documented shapes.
import { createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, replyJson, serveLocal } from './http.ts'
import { createOAuthFake } from './oauth-provider.ts'

export interface FitbitDay { steps?: number, distanceKm?: number, activityCalories?: number, fairlyActiveMinutes?: number, veryActiveMinutes?: number }

export async function startFitbitFake (opts: { clientId: string, clientSecret: string, accountId: string }) {
  const oauth = createOAuthFake({ ...opts, clientAuth: 'basic', tokenExtras: () => ({ user_id: opts.accountId }) })
  const days = new Map<string, FitbitDay>()
  const subscriptions: Array<{ subscriptionId: string, subscriberId: string | undefined }> = []
  const dayRequests: string[] = []
  let rateLimited = 0

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://fitbit')
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      const answer = oauth.token(req, raw)
      return replyJson(res, answer.status, answer.status === 200 ? answer.body : { errors: [{ errorType: answer.body.error, message: String(answer.body.error) }], success: false })
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/revoke') {
      oauth.revoke(new URLSearchParams(raw).get('token') ?? '')
      return replyJson(res, 200, {})
    }
    if (!oauth.authorized(req)) {
      return replyJson(res, 401, { errors: [{ errorType: 'expired_token', message: 'Access token expired' }], success: false })
    }
    const subscription = /^\/1\/user\/-\/activities\/apiSubscriptions\/([^/]+)\.json$/.exec(url.pathname)
    if (req.method === 'POST' && subscription !== null) {
      subscriptions.push({ subscriptionId: decodeURIComponent(subscription[1]!), subscriberId: req.headers['x-fitbit-subscriber-id'] as string | undefined })
      return replyJson(res, 201, { collectionType: 'activities', ownerId: opts.accountId, ownerType: 'user', subscriberId: req.headers['x-fitbit-subscriber-id'] ?? '1', subscriptionId: subscription[1] })
    }
    const day = /^\/1\/user\/-\/activities\/date\/(\d{4}-\d{2}-\d{2})\.json$/.exec(url.pathname)
    if (req.method === 'GET' && day !== null) {
      if (rateLimited > 0) {
        rateLimited--
        return replyJson(res, 429, { errors: [{ errorType: 'system', message: 'Too Many Requests' }] }, { 'retry-after': '1', 'fitbit-rate-limit-limit': '150', 'fitbit-rate-limit-remaining': '0', 'fitbit-rate-limit-reset': '1' })
      }
      dayRequests.push(day[1]!)
      const d = days.get(day[1]!) ?? {}
      return replyJson(res, 200, {
        activities: [],
        goals: { steps: 10000, distance: 8.05, caloriesOut: 2500, activeMinutes: 30 },
        summary: {
          steps: d.steps ?? 0,
          activityCalories: d.activityCalories ?? 0,
          caloriesOut: 1700 + (d.activityCalories ?? 0),
          caloriesBMR: 1700,
          distances: [{ activity: 'total', distance: d.distanceKm ?? 0 }, { activity: 'tracker', distance: d.distanceKm ?? 0 }],
          fairlyActiveMinutes: d.fairlyActiveMinutes ?? 0,
          veryActiveMinutes: d.veryActiveMinutes ?? 0,
          lightlyActiveMinutes: 120,
          sedentaryMinutes: 700
        }
      })
    }
    replyJson(res, 404, { errors: [{ errorType: 'not_found', message: `${req.method} ${url.pathname}` }] })
  }
  const { url, close } = await serveLocal(handle, (err) => ({ errors: [{ errorType: 'system', message: String(err) }] }))

  return {
    url,
    close,
    oauth,
    subscriptions,
    dayRequests,
    setDay: (day: string, values: FitbitDay) => days.set(day, values),
    rateLimitNext: (n: number) => { rateLimited = n },
    // A subscription notification as Fitbit sends it, signed with the client secret.
    notification (items: Array<{ date: string, ownerId?: string, collectionType?: string }>, secret = opts.clientSecret) {
      const body = JSON.stringify(items.map((i) => ({
        collectionType: i.collectionType ?? 'activities', date: i.date, ownerId: i.ownerId ?? opts.accountId, ownerType: 'user', subscriptionId: i.ownerId ?? opts.accountId
      })))
      return { body, signature: createHmac('sha1', `${secret}&`).update(body).digest('base64') }
    }
  }
}

export type FitbitFake = Awaited<ReturnType<typeof startFitbitFake>>
