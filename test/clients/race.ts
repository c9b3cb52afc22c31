import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createApiClient, type ApiClient } from '../../clients/index.ts'
import { token } from '../helper.ts'

// A competition and its people made through the public API with the typed client, as an
// integrator's code would: used by the client flow test and the browser tests.

export interface Racer {
  id: string
  name: string
  token: string
  api: ApiClient
}

export interface Race {
  competitionId: string
  admin: ApiClient
  racers: Racer[]
}

// Config for an app hosting a race: the sweeper starts it within a moment, the live feed
// ticks fast, the bursts of set-up calls stay under the rate limit, and a machine busy with
// a browser and other test files does not make the app shed load.
export const RACE_CONFIG = { PUBLIC_URL: '', REALTIME_TICK_MS: 50, RATE_LIMIT_MAX: 100000, MAX_EVENT_LOOP_DELAY_MS: 0 }

export function racer (baseUrl: string, name: string, opts: { admin?: boolean } = {}): Racer {
  const id = randomUUID()
  const jwt = token({ sub: id, admin: opts.admin })
  return { id, name, token: jwt, api: createApiClient(baseUrl, jwt) }
}

// Polls until `check` returns a value; fails with `what` after `timeoutMs`.
export async function eventually<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

// Multipart is sent with fetch and FormData, as a browser would.
export async function uploadAvatar (baseUrl: string, who: Racer, image: Buffer): Promise<string> {
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'avatar.png')
  const res = await fetch(`${baseUrl}/api/v1/users/${who.id}/avatar`, { method: 'POST', headers: { authorization: `Bearer ${who.token}` }, body: form })
  if (res.status !== 200) throw new Error(`avatar upload failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { avatarUrl: string }).avatarUrl
}

export interface RaceOptions {
  names: string[]
  metric?: 'custom' | 'steps'
  name?: string
  // Avatars to upload before joining, by racer name.
  avatars?: Record<string, Buffer>
  // Start the window this long ago (under a minute: a start in the past is refused), so
  // fitness data recorded "before now" falls inside it.
  startedMsAgo?: number
}

export async function startRace (baseUrl: string, opts: RaceOptions): Promise<Race> {
  const admin = racer(baseUrl, 'Organiser', { admin: true }).api
  const now = Date.now() - (opts.startedMsAgo ?? 0)
  const created = await admin.POST('/api/v1/competitions', {
    body: {
      name: opts.name ?? 'November Step Challenge',
      metric: opts.metric ?? 'custom',
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 24 * 3600_000).toISOString()
    }
  })
  if (!created.data) throw new Error(`create failed: ${JSON.stringify(created.error)}`)
  const competitionId = created.data.id

  const racers = opts.names.map((name) => racer(baseUrl, name))
  for (const r of racers) {
    // The first signed-in call creates the profile from the token; then the name is set.
    const profile = await r.api.PUT('/api/v1/users/{userId}/profile', { params: { path: { userId: r.id } }, body: { displayName: r.name } })
    if (!profile.data) throw new Error(`profile failed: ${JSON.stringify(profile.error)}`)
    const avatar = opts.avatars?.[r.name]
    if (avatar) await uploadAvatar(baseUrl, r, avatar)
    const joined = await r.api.POST('/api/v1/competitions/{id}/join', {
      params: { path: { id: competitionId }, header: { 'idempotency-key': `join-${competitionId}-${r.id}` } },
      body: {}
    })
    if (!joined.data) throw new Error(`join failed: ${JSON.stringify(joined.error)}`)
  }

  await eventually('the competition to start', async () => {
    const { data } = await admin.GET('/api/v1/competitions/{id}', { params: { path: { id: competitionId } } })
    return data?.status === 'active' ? true : undefined
  })
  return { competitionId, admin, racers }
}

// An operator's score change (custom-metric competitions), through the API.
export async function setScore (race: Race, who: Racer, value: number): Promise<void> {
  const res = await race.admin.POST('/api/v1/leaderboard/update', {
    params: { header: { 'idempotency-key': randomUUID() } },
    body: { competitionId: race.competitionId, userId: who.id, operation: 'set', value }
  })
  if (!res.data) throw new Error(`score update failed: ${JSON.stringify(res.error)}`)
}
