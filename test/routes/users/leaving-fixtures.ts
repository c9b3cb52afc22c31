import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import sharp from 'sharp'
import { bearer } from '../../helper.ts'
import { credit, type Person } from '../competitions/fixtures.ts'
import { HOUR, insertCompetition, join, sample, syncOk } from '../fitness/fixtures.ts'
import { connect, TOKEN_KEYS } from '../connections/fixtures.ts'
import type { FitbitFake } from '../../fakes/fitbit.ts'

// A user with something of every kind the API lets them have: profile, avatar, device,
// notification settings, fitness samples, a provider connection, a competition with a score,
// wallet credit. The deletion and export tests start from it.

export const WEBHOOK_SECRET = 'supabase-webhook-secret-for-tests-0123456789'

export function leavingConfig (fitbit: FitbitFake): Record<string, unknown> {
  return {
    LIFECYCLE_JOBS: false,
    MAX_EVENT_LOOP_DELAY_MS: 0,
    RATE_LIMIT_MAX: 100_000,
    PROVIDER_TOKEN_KEYS: TOKEN_KEYS,
    FITBIT_CLIENT_ID: 'leaving',
    FITBIT_CLIENT_SECRET: 'leaving-secret',
    FITBIT_API_URL: fitbit.url,
    SUPABASE_AUTH_WEBHOOK_SECRET: WEBHOOK_SECRET
  }
}

export interface Seeded {
  person: Person
  competitionId: string
  // Text that identifies the person: none of it may remain after deletion.
  personal: { email: string, displayName: string, username: string, phone: string, deviceToken: string, bio: string }
  avatarKey: string
}

async function ok (app: FastifyInstance, who: Person, method: 'POST' | 'PUT' | 'PATCH', url: string, payload: unknown, extra: Record<string, string> = {}): Promise<any> {
  const res = await app.inject({ method, url, headers: { ...who.headers, ...extra }, payload: payload as Record<string, unknown> })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

function avatarForm (data: Buffer): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----leaving${randomUUID()}`
  return {
    payload: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="me.png"\r\nContent-Type: image/png\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
  }
}

export async function seedAccount (app: FastifyInstance, ctx: { admin: Person, fitbit: FitbitFake, tag: string }): Promise<Seeded> {
  const id = randomUUID()
  const { tag } = ctx
  const email = `${tag}.person@example.org`
  const displayName = `${tag} Lovelace`
  const person: Person = { id, headers: bearer({ sub: id, claims: { email, user_metadata: { full_name: displayName } } }) }
  const username = `${tag}_runner`
  const phone = `+1415555${String(Math.floor(Math.random() * 9000) + 1000)}`
  const bio = `${tag} walks every morning`
  const deviceToken = `${tag}-device-token-${randomUUID()}`

  await ok(app, person, 'PUT', `/api/v1/users/${id}/profile`, { displayName, username, bio, phoneNumber: phone, timeZone: 'Europe/London' })
  const form = avatarForm(await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer())
  const avatar = await app.inject({ method: 'POST', url: `/api/v1/users/${id}/avatar`, headers: { ...person.headers, ...form.headers }, payload: form.payload })
  if (avatar.statusCode !== 200) throw new Error(`avatar: ${avatar.statusCode} ${avatar.body}`)
  await ok(app, person, 'POST', `/api/v1/users/${id}/devices`, { provider: 'fcm', token: deviceToken, platform: 'android', appVersion: '1.0.0' })
  await ok(app, person, 'PATCH', `/api/v1/users/${id}/notification-preferences`, { categories: { rank: { push: false } }, quietHours: { start: '22:00', end: '07:00' }, dailyCap: 3 })

  // A running competition the person scores in (later ended by hand: the sweeper is off).
  const competitionId = await insertCompetition(app, { startsAt: Date.now() - 2 * HOUR, endsAt: Date.now() + 22 * HOUR })
  await join(app, person, competitionId)
  await syncOk(app, person, { source: 'healthkit', samples: [sample({ start: Date.now() - HOUR, value: 1200 }), sample({ start: Date.now() - 30 * 60_000, value: 800 })] })

  await connect(app, person, 'fitbit', ctx.fitbit.oauth)
  await credit(app, ctx.admin, id, 700)

  const { rows } = await app.pg.query<{ avatar_key: string }>('SELECT avatar_key FROM users WHERE id = $1', [id])
  return { person, competitionId, personal: { email, displayName, username, phone, deviceToken, bio }, avatarKey: rows[0]!.avatar_key }
}

// Every row of every table (and every job) whose text contains the value, by table.
export async function tablesHolding (app: FastifyInstance, value: string): Promise<string[]> {
  const { rows: tables } = await app.pg.query<{ name: string }>(`SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'pgboss') AND c.relkind IN ('r', 'p') ORDER BY 1`)
  const found: string[] = []
  for (const { name } of tables) {
    const { rows } = await app.pg.query(`SELECT count(*)::int AS n FROM ${name} t WHERE strpos(lower(t::text), lower($1)) > 0`, [value])
    if (rows[0].n > 0) found.push(`${name} (${rows[0].n})`)
  }
  return found
}
