import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { loadDevSecret } from '../lib/dev-secret.ts'
import { errors } from '../lib/errors.ts'
import { createJwksKeySet } from '../lib/jwks-key-set.ts'
import { setRecent } from '../lib/recent-map.ts'
import { isUuid } from '../lib/uuid.ts'

export interface TokenClaims {
  sub: string
  email?: string
  role?: string
  app_metadata?: { role?: string }
  user_metadata?: { full_name?: string, name?: string, user_name?: string, avatar_url?: string }
}

export interface AuthUser {
  id: string
  email: string | null
  // 'service' is Supabase's service_role key: a trusted backend caller.
  role: 'user' | 'admin' | 'service'
  isAdmin: boolean
  displayName: string | null
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims
    user: AuthUser
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    // onRequest hook for routes that need a signed-in caller: verifies the token, creates the
    // caller's users row on first use, and counts a refusal against the caller's address.
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

function toUser (claims: TokenClaims): AuthUser {
  if (typeof claims.sub !== 'string' || !isUuid(claims.sub)) throw errors.Unauthorized('Token subject must be a user id')
  const role = claims.role === 'service_role' ? 'service' : claims.app_metadata?.role === 'admin' ? 'admin' : 'user'
  const meta = claims.user_metadata ?? {}
  return {
    id: claims.sub.toLowerCase(),
    email: claims.email ?? null,
    role,
    isAdmin: role !== 'user',
    displayName: meta.full_name ?? meta.name ?? meta.user_name ?? null
  }
}

const VERIFIED_MAX = 10_000

const CLOCK_TOLERANCE_MS = 5000
// Known JWKS keys are read again after this, so a key removed from the set stops being accepted.
const JWKS_MAX_AGE_MS = 10 * 60 * 1000

// Until when a verified token stays accepted: its exp, with the same clock tolerance the
// verifier allows (its payload is known to be valid JSON with a numeric exp).
function expiresAt (token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }
  return payload.exp * 1000 + CLOCK_TOLERANCE_MS
}

function extractToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const [scheme, token] = header.split(' ')
    return scheme?.toLowerCase() === 'bearer' && token ? token : undefined
  }
  // Browsers cannot set headers on a WebSocket upgrade, so the realtime route takes ?token=.
  if (request.url.startsWith('/ws/')) {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    return typeof token === 'string' ? token : undefined
  }
  return undefined
}

// Supabase signs with its project secret (HS256) or, on newer projects, asymmetric keys
// published as a JWKS. The algorithm decides the key, and each key only accepts its own
// family of algorithms, so an HS token can never be checked against a public key.
export default fp(async function authPlugin (fastify) {
  const { config } = fastify
  let secret = config.JWT_SECRET
  if (secret === '' && config.JWKS_URL === '') {
    if (config.DATABASE_URL !== '') throw new Error('Set JWT_SECRET or JWKS_URL: a service with a real database never runs with a development secret')
    secret = await loadDevSecret(config.DATA_DIR)
    fastify.log.warn('JWT_SECRET is not set: using a development secret (see `npm run token`)')
  }

  const jwks = config.JWKS_URL === ''
    ? null
    : createJwksKeySet({ url: config.JWKS_URL, minRefreshMs: config.JWKS_REFRESH_MIN_MS, maxAgeMs: JWKS_MAX_AGE_MS })
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ['RS256', 'ES256'] : [])]

  await fastify.register(fastifyJwt, {
    decode: { complete: true },
    secret: async (_request: FastifyRequest, token: { header: { alg?: string, kid?: string } }) => {
      const { alg, kid } = token.header
      if (alg === 'HS256' && secret) return secret
      if (jwks && (alg === 'RS256' || alg === 'ES256')) return await jwks.getPublicKey(alg, kid)
      throw errors.Unauthorized('Token algorithm is not accepted')
    },
    verify: {
      algorithms,
      allowedAud: config.JWT_AUDIENCE || undefined,
      allowedIss: config.JWT_ISSUER || undefined,
      // fast-jwt checks iss/aud only when present, so a configured one must also be required.
      requiredClaims: ['sub', 'exp', ...(config.JWT_AUDIENCE ? ['aud'] : []), ...(config.JWT_ISSUER ? ['iss'] : [])],
      clockTolerance: CLOCK_TOLERANCE_MS,
      // Verified tokens are cached (fast-jwt honours exp/nbf) so hot reads skip the signature check.
      cache: 10000,
      extractToken
    },
    formatUser: (claims) => toUser(claims as TokenClaims)
  } as Parameters<typeof fastifyJwt>[1])

  const { provisionUser } = fastify

  // Tokens already verified, by their text: a hit skips decoding and the key lookup that
  // @fastify/jwt does before its own cache. Held until the token's exp, at most VERIFIED_MAX.
  // A token enters it only once its user is provisioned, so a hit costs no query either.
  const verified = new Map<string, { user: AuthUser, expiresAt: number }>()
  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest, reply: FastifyReply) {
    const token = extractToken(request)
    const hit = token === undefined ? undefined : verified.get(token)
    if (hit !== undefined && hit.expiresAt > Date.now()) {
      request.user = hit.user
      // No query for a known caller; a deleted account's token is refused here on every instance.
      await provisioned(request, reply, token!)
      return
    }
    try {
      await request.jwtVerify()
    } catch (err) {
      const message = (err as Error).message
      await fastify.limitFailedAuth(request, reply)
      throw errors.Unauthorized(message.startsWith('No Authorization') ? 'Authentication required' : message)
    }
    if (!await provisioned(request, reply, token)) return
    if (token !== undefined) setRecent(verified, token, { user: request.user, expiresAt: expiresAt(token) }, VERIFIED_MAX)
  })

  // Whether the caller's row exists; a deleted account is refused (and its token forgotten).
  async function provisioned (request: FastifyRequest, reply: FastifyReply, token: string | undefined): Promise<boolean> {
    try {
      await provisionUser(request.user)
      return true
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 401) {
        if (token !== undefined) verified.delete(token)
        await fastify.limitFailedAuth(request, reply)
        throw err
      }
      // Postgres unreachable: routes that do not need it (GET /me, leaderboard reads from Redis)
      // keep working, and the token is not cached so the caller's next call provisions them.
      request.log.warn({ err }, 'the caller could not be provisioned, retried on their next call')
      return false
    }
  }
}, { name: 'auth', dependencies: ['config', 'rate-limit', 'user-provisioning'] })
