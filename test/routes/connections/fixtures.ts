import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { eventually, type Person } from '../fitness/fixtures.ts'
import type { OAuthFake } from '../../fakes/oauth-provider.ts'

// Set-up shared by the cloud provider tests: a token key ring, connecting through the real
// OAuth redirect dance against a provider's fake, and waiting for the provider jobs.

export const TOKEN_KEYS = `k1:${randomBytes(32).toString('base64')}`

export const CONNECTION_TEST_CONFIG = {
  LIFECYCLE_JOBS: false,
  PROVIDER_TOKEN_KEYS: TOKEN_KEYS,
  PROVIDER_BACKFILL_DAYS: 3,
  FITNESS_PROVIDER_TIMEOUT_MS: 2000,
  FITNESS_PROVIDER_RETRIES: 2,
  FITNESS_PROVIDER_BACKOFF_MS: 20,
  FITNESS_PROVIDER_BACKOFF_MAX_MS: 50
}

// Begin, let the fake "user" consent, follow the redirect to our callback.
export async function connect (app: FastifyInstance, who: Person, provider: string, oauth: OAuthFake): Promise<Record<string, unknown>> {
  const begun = await app.inject({ method: 'POST', url: `/api/v1/users/${who.id}/connections/${provider}`, headers: who.headers })
  if (begun.statusCode !== 201) throw new Error(`begin failed: ${begun.statusCode} ${begun.body}`)
  const redirect = new URL(oauth.consent(begun.json().authorizeUrl))
  const done = await app.inject({ method: 'GET', url: `${redirect.pathname}${redirect.search}` })
  if (done.statusCode !== 200) throw new Error(`callback failed: ${done.statusCode} ${done.body}`)
  return done.json()
}

// Until no provider job is waiting or running.
export async function providerJobsSettled (app: FastifyInstance): Promise<void> {
  await eventually(async () => {
    const { rows } = await app.pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pgboss.job WHERE name = \'provider-sync\' AND state IN (\'created\', \'retry\', \'active\')')
    return rows[0]!.n === 0 ? true : undefined
  }, 15_000)
}

export async function connectionOf (app: FastifyInstance, who: Person, provider: string): Promise<Record<string, any>> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/users/${who.id}/connections`, headers: who.headers })
  return res.json().items.find((c: { provider: string }) => c.provider === provider)
}

export async function storedTokens (app: FastifyInstance, userId: string, provider: string): Promise<{ access_token: string, refresh_token: string | null } | undefined> {
  const { rows } = await app.pg.query('SELECT access_token, refresh_token FROM provider_connections WHERE user_id = $1 AND provider = $2', [userId, provider])
  return rows[0]
}
