// Strava API v3 on 127.0.0.1: OAuth (client secret in the form, the athlete in the token
// answer), deauthorize, activities and the webhook events Strava posts, in its documented shapes.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody, replyJson, serveLocal } from './http.ts'
import { createOAuthFake } from './oauth-provider.ts'

export interface StravaActivity { distance: number, calories?: number, movingTime: number, elapsedTime: number, start: string, manual?: boolean }

export async function startStravaFake (opts: { clientId: string, clientSecret: string, athleteId: number }) {
  const oauth = createOAuthFake({
    ...opts,
    accountId: String(opts.athleteId),
    clientAuth: 'body',
    tokenExtras: () => ({ expires_at: Math.floor(Date.now() / 1000) + 21_600, athlete: { id: opts.athleteId, username: 'runner', resource_state: 2 } })
  })
  const activities = new Map<number, StravaActivity>()
  const reads: number[] = []
  const deauthorized: string[] = []

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://strava')
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const answer = oauth.token(req, raw)
      return replyJson(res, answer.status, answer.status === 200 ? answer.body : { message: 'Bad Request', errors: [{ resource: 'RefreshToken', field: 'refresh_token', code: 'invalid' }] })
    }
    if (req.method === 'POST' && url.pathname === '/oauth/deauthorize') {
      const token = new URLSearchParams(raw).get('access_token') ?? ''
      deauthorized.push(token)
      oauth.revoke(token)
      return replyJson(res, 200, { access_token: token })
    }
    if (!oauth.authorized(req)) return replyJson(res, 401, { message: 'Authorization Error', errors: [{ resource: 'Athlete', field: 'access_token', code: 'invalid' }] })
    const one = /^\/api\/v3\/activities\/(\d+)$/.exec(url.pathname)
    if (req.method === 'GET' && one !== null) {
      const id = Number(one[1])
      const a = activities.get(id)
      if (a === undefined) return replyJson(res, 404, { message: 'Record Not Found', errors: [{ resource: 'Activity', field: 'id', code: 'not found' }] })
      reads.push(id)
      return replyJson(res, 200, {
        id,
        resource_state: 3,
        athlete: { id: opts.athleteId, resource_state: 1 },
        name: 'Morning Run',
        distance: a.distance,
        moving_time: a.movingTime,
        elapsed_time: a.elapsedTime,
        sport_type: 'Run',
        type: 'Run',
        start_date: a.start,
        start_date_local: a.start.replace('Z', ''),
        timezone: '(GMT+00:00) Europe/London',
        utc_offset: 0,
        manual: a.manual ?? false,
        calories: a.calories,
        device_name: 'Garmin Forerunner 265'
      })
    }
    if (req.method === 'GET' && url.pathname === '/api/v3/athlete/activities') {
      const after = Number(url.searchParams.get('after'))
      const before = Number(url.searchParams.get('before'))
      const list = [...activities.entries()].filter(([, a]) => Date.parse(a.start) / 1000 > after && Date.parse(a.start) / 1000 < before)
      return replyJson(res, 200, url.searchParams.get('page') === '1' ? list.map(([id, a]) => ({ id, resource_state: 2, distance: a.distance, start_date: a.start })) : [])
    }
    replyJson(res, 404, { message: 'Resource Not Found', errors: [] })
  }
  const { url, close } = await serveLocal(handle, (err) => ({ message: String(err) }))

  return {
    url,
    close,
    oauth,
    reads,
    deauthorized,
    setActivity: (id: number, a: StravaActivity) => activities.set(id, a),
    removeActivity: (id: number) => activities.delete(id),
    // A webhook event as Strava posts it.
    event (e: { objectId: number, aspect: 'create' | 'update' | 'delete', objectType?: 'activity' | 'athlete', subscriptionId?: number, updates?: Record<string, string> }) {
      return JSON.stringify({
        aspect_type: e.aspect,
        event_time: Math.floor(Date.now() / 1000),
        object_id: e.objectId,
        object_type: e.objectType ?? 'activity',
        owner_id: opts.athleteId,
        subscription_id: e.subscriptionId ?? 120475,
        updates: e.updates ?? {}
      })
    }
  }
}
