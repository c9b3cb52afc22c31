// Garmin Health API on 127.0.0.1: OAuth 2.0 with PKCE (client secret in the form), user id,
// registration, backfill requests, ping callbacks and the push and ping bodies Garmin posts.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, replyJson, serveLocal } from './http.ts'
import { createOAuthFake } from './oauth-provider.ts'

export interface GarminDay { steps: number, distanceInMeters?: number, activeKilocalories?: number, moderateSeconds?: number, vigorousSeconds?: number }

export async function startGarminFake (opts: { clientId: string, clientSecret: string, accountId: string }) {
  const oauth = createOAuthFake({ ...opts, clientAuth: 'body' })
  const days = new Map<string, GarminDay>()
  const backfills: string[] = []
  const callbacks: string[] = []
  const deregistered: string[] = []

  const summary = (day: string, d: GarminDay) => ({
    userId: opts.accountId,
    summaryId: `x${day.replaceAll('-', '')}-${opts.accountId.slice(0, 4)}`,
    calendarDate: day,
    activityType: 'WALKING',
    startTimeInSeconds: Date.parse(`${day}T00:00:00Z`) / 1000,
    startTimeOffsetInSeconds: 0,
    durationInSeconds: 86400,
    steps: d.steps,
    distanceInMeters: d.distanceInMeters ?? 0,
    activeKilocalories: d.activeKilocalories ?? 0,
    bmrKilocalories: 1600,
    moderateIntensityDurationInSeconds: d.moderateSeconds ?? 0,
    vigorousIntensityDurationInSeconds: d.vigorousSeconds ?? 0,
    floorsClimbed: 4
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://garmin')
    if (req.method === 'POST' && url.pathname === '/di-oauth2-service/oauth/token') {
      const answer = oauth.token(req, raw)
      return replyJson(res, answer.status, answer.status === 200 ? { ...answer.body, jti: 'e1f2', refresh_token_expires_in: 7_775_999 } : answer.body)
    }
    if (!oauth.authorized(req)) return replyJson(res, 401, { errorMessage: 'Unauthorized' })
    if (req.method === 'GET' && url.pathname === '/wellness-api/rest/user/id') return replyJson(res, 200, { userId: opts.accountId })
    if (req.method === 'DELETE' && url.pathname === '/wellness-api/rest/user/registration') {
      deregistered.push(req.headers.authorization ?? '')
      res.writeHead(204).end()
      return
    }
    if (req.method === 'GET' && url.pathname === '/wellness-api/rest/backfill/dailies') {
      backfills.push(`${url.searchParams.get('summaryStartTimeInSeconds')}-${url.searchParams.get('summaryEndTimeInSeconds')}`)
      res.writeHead(202).end()
      return
    }
    if (req.method === 'GET' && url.pathname === '/wellness-api/rest/dailies') {
      callbacks.push(url.search)
      return replyJson(res, 200, [...days.entries()].map(([day, d]) => summary(day, d)))
    }
    replyJson(res, 404, { errorMessage: 'Not Found' })
  }
  const { url, close } = await serveLocal(handle, (err) => ({ errorMessage: String(err) }))

  return {
    url,
    close,
    oauth,
    backfills,
    callbacks,
    deregistered,
    setDay: (day: string, d: GarminDay) => days.set(day, d),
    // Push: the summaries themselves.
    push: (day: string, d: GarminDay) => JSON.stringify({ dailies: [{ ...summary(day, d), userAccessToken: 'uat-1' }] }),
    // Ping: where to fetch the new summaries.
    ping: (origin = url) => {
      const now = Math.floor(Date.now() / 1000)
      return JSON.stringify({ dailies: [{ userId: opts.accountId, callbackURL: `${origin}/wellness-api/rest/dailies?uploadStartTimeInSeconds=${now - 60}&uploadEndTimeInSeconds=${now}&token=CPT123` }] })
    },
    deregistration: () => JSON.stringify({ deregistrations: [{ userId: opts.accountId, userAccessToken: 'uat-1' }] })
  }
}
