// The OAuth 2.0 side every cloud fitness provider fake shares: the user's consent (a test
// "opens" the authorize URL and gets the redirect back), the token endpoint with PKCE checked
// as RFC 7636 says, short-lived access tokens, rotating refresh tokens and revocation.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export interface OAuthFakeOptions {
  clientId: string
  clientSecret: string
  // The provider's account id of the user who consents.
  accountId: string
  // Lifetime of access tokens it issues.
  expiresInSeconds?: number
  // basic: client authenticates with HTTP Basic; body: client_id and client_secret in the form.
  clientAuth: 'basic' | 'body'
  // Fields the provider adds to its token answers (Fitbit's user_id, Strava's athlete).
  tokenExtras?: () => Record<string, unknown>
}

interface Grant { code: string, challenge: string, redirectUri: string, scope: string }
export interface TokenAnswer { status: number, body: Record<string, unknown> }

export function createOAuthFake (opts: OAuthFakeOptions) {
  const grants = new Map<string, Grant>()
  // access token -> expiry (ms)
  const access = new Map<string, number>()
  const refresh = new Set<string>()
  const state = {
    expiresInSeconds: opts.expiresInSeconds ?? 28_800,
    refreshes: 0,
    revoked: [] as string[],
    exchanges: [] as Array<Record<string, string>>
  }

  function issue (scope: string): Record<string, unknown> {
    const accessToken = `at-${randomBytes(12).toString('hex')}`
    const refreshToken = `rt-${randomBytes(12).toString('hex')}`
    access.set(accessToken, Date.now() + state.expiresInSeconds * 1000)
    refresh.add(refreshToken)
    return { access_token: accessToken, refresh_token: refreshToken, expires_in: state.expiresInSeconds, token_type: 'Bearer', scope, ...opts.tokenExtras?.() }
  }

  function clientAuthenticated (req: IncomingMessage, form: URLSearchParams): boolean {
    if (opts.clientAuth === 'basic') {
      const expected = `Basic ${Buffer.from(`${opts.clientId}:${opts.clientSecret}`).toString('base64')}`
      return req.headers.authorization === expected
    }
    return form.get('client_id') === opts.clientId && form.get('client_secret') === opts.clientSecret
  }

  return {
    state,
    // The user consents: checks what the authorize URL asks and answers the redirect URL.
    consent (authorizeUrl: string): string {
      const url = new URL(authorizeUrl)
      const q = url.searchParams
      if (q.get('client_id') !== opts.clientId) throw new Error(`authorize: wrong client_id ${q.get('client_id')}`)
      if (q.get('response_type') !== 'code') throw new Error('authorize: response_type must be code')
      if (q.get('code_challenge_method') !== 'S256' || (q.get('code_challenge') ?? '').length < 43) throw new Error('authorize: PKCE S256 challenge missing')
      const code = randomBytes(10).toString('hex')
      grants.set(code, { code, challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')!, scope: q.get('scope') ?? '' })
      const redirect = new URL(q.get('redirect_uri')!)
      redirect.searchParams.set('code', code)
      redirect.searchParams.set('state', q.get('state')!)
      return redirect.toString()
    },
    // The token endpoint (authorization_code and refresh_token grants).
    token (req: IncomingMessage, raw: string): TokenAnswer {
      const form = new URLSearchParams(raw)
      if (!clientAuthenticated(req, form)) return { status: 401, body: { error: 'invalid_client' } }
      state.exchanges.push(Object.fromEntries(form))
      if (form.get('grant_type') === 'authorization_code') {
        const grant = grants.get(form.get('code') ?? '')
        grants.delete(form.get('code') ?? '')
        const verifier = form.get('code_verifier') ?? ''
        if (grant === undefined || grant.redirectUri !== form.get('redirect_uri') ||
          createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
          return { status: 400, body: { error: 'invalid_grant' } }
        }
        return { status: 200, body: issue(grant.scope) }
      }
      if (form.get('grant_type') === 'refresh_token') {
        const token = form.get('refresh_token') ?? ''
        // Single use: a spent refresh token is refused.
        if (!refresh.delete(token)) return { status: 400, body: { error: 'invalid_grant' } }
        state.refreshes++
        return { status: 200, body: issue('') }
      }
      return { status: 400, body: { error: 'unsupported_grant_type' } }
    },
    // The bearer token of a data request, when valid and unexpired.
    authorized (req: IncomingMessage): boolean {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      const expiry = access.get(token)
      return expiry !== undefined && expiry > Date.now()
    },
    revoke (token: string): void {
      state.revoked.push(token)
      access.delete(token)
      refresh.delete(token)
    },
    // Every access token issued so far stops working (as when they expire).
    expireAll (): void {
      for (const token of access.keys()) access.set(token, 0)
    },
    accessTokens: () => [...access.keys()],
    accountId: opts.accountId
  }
}

export type OAuthFake = ReturnType<typeof createOAuthFake>
