import { createHash, randomBytes } from 'node:crypto'
import type { ProviderHttp } from '../providers/cloud/http.ts'
import type { ClientCredentials, CloudProvider, TokenSet } from '../providers/cloud/types.ts'

// OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256) and state, the same for every
// provider: the module only names its URLs, scopes and how the client authenticates.

export interface OAuthClient {
  provider: CloudProvider
  credentials: ClientCredentials
  http: ProviderHttp
  redirectUri: string
}

export function newState (): string {
  return randomBytes(32).toString('base64url')
}

// 43 to 128 characters of [A-Za-z0-9-._~]: 64 random bytes in base64url are 86.
export function newCodeVerifier (): string {
  return randomBytes(64).toString('base64url')
}

export function codeChallenge (verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

export function authorizeUrl (client: OAuthClient, state: string, verifier: string): string {
  const url = new URL(client.provider.authorizeUrl)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', client.credentials.clientId)
  url.searchParams.set('redirect_uri', client.redirectUri)
  if (client.provider.scopes.length > 0) url.searchParams.set('scope', client.provider.scopes.join(client.provider.scopeSeparator ?? ' '))
  url.searchParams.set('state', state)
  url.searchParams.set('code_challenge', codeChallenge(verifier))
  url.searchParams.set('code_challenge_method', 'S256')
  return url.toString()
}

async function tokenRequest (client: OAuthClient, fields: Record<string, string>, now: Date): Promise<TokenSet> {
  const { provider, credentials } = client
  const form = provider.clientAuth === 'basic'
    ? { client_id: credentials.clientId, ...fields }
    : { client_id: credentials.clientId, client_secret: credentials.clientSecret, ...fields }
  const body = await client.http.request<Record<string, unknown>>(provider.tokenUrl, {
    form,
    ...(provider.clientAuth === 'basic' && { basic: credentials })
  })
  return provider.readTokens(body ?? {}, now)
}

export async function exchangeCode (client: OAuthClient, code: string, verifier: string, now: Date): Promise<TokenSet> {
  return await tokenRequest(client, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier }, now)
}

export async function refreshTokens (client: OAuthClient, refreshToken: string, now: Date): Promise<TokenSet> {
  return await tokenRequest(client, { grant_type: 'refresh_token', refresh_token: refreshToken }, now)
}
