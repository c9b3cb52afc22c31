import type { Resilience } from '../resilience.ts'
import { ProviderHttpError, parseRetryAfter } from '../types.ts'
import type { ClientCredentials } from './types.ts'

// The one way provider modules call their provider: each request inside the provider's
// resilience policy (timeout, retries with backoff honouring Retry-After, circuit breaker),
// a non-2xx answer as a ProviderHttpError, every attempt counted.
export interface ProviderHttpOptions {
  label: string
  resilience: Resilience
  onAttempt?: (outcome: 'ok' | 'retryable' | 'rejected' | 'error') => void
}

export interface ProviderRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  accessToken?: string
  // Sent as application/x-www-form-urlencoded.
  form?: Record<string, string>
  // HTTP Basic client authentication (token endpoints that ask for it).
  basic?: ClientCredentials
  headers?: Record<string, string>
}

export type ProviderHttp = ReturnType<typeof createProviderHttp>

export function createProviderHttp (opts: ProviderHttpOptions) {
  async function attempt (url: string, req: ProviderRequest, signal: AbortSignal): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers }
    if (req.accessToken !== undefined) headers.authorization = `Bearer ${req.accessToken}`
    if (req.basic !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${req.basic.clientId}:${req.basic.clientSecret}`).toString('base64')}`
    }
    let body: string | undefined
    if (req.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(req.form).toString()
    }
    const res = await fetch(url, { method: req.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal })
    if (!res.ok) {
      await res.body?.cancel()
      const retryable = res.status === 429 || res.status >= 500
      opts.onAttempt?.(retryable ? 'retryable' : 'rejected')
      throw new ProviderHttpError(opts.label, res.status, res.status === 429 ? rateLimitWaitMs(res.headers) : parseRetryAfter(res.headers.get('retry-after')))
    }
    const text = await res.text()
    opts.onAttempt?.('ok')
    if (text === '') return null
    try {
      return JSON.parse(text)
    } catch {
      // A body we cannot read is treated like a server error: retried, and counted by the breaker.
      throw new ProviderHttpError(opts.label, 502)
    }
  }

  return {
    async request<T = unknown> (url: string, req: ProviderRequest = {}): Promise<T> {
      return await opts.resilience.execute(async (signal) => {
        try {
          return await attempt(url, req, signal) as T
        } catch (err) {
          if (!(err instanceof ProviderHttpError)) opts.onAttempt?.('error')
          throw err
        }
      })
    }
  }
}

// How long a 429 asks us to wait: Retry-After when given; else Fitbit's seconds until its hourly
// window resets; else, for Strava (X-RateLimit-* without Retry-After), until its 15-minute window
// turns at the next quarter hour.
export function rateLimitWaitMs (headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers.get('retry-after'), now)
  if (retryAfter !== undefined) return retryAfter
  const fitbitReset = headers.get('fitbit-rate-limit-reset')
  if (fitbitReset !== null && /^\d+$/.test(fitbitReset)) return Number(fitbitReset) * 1000
  if (headers.get('x-ratelimit-limit') !== null) return 15 * 60_000 - (now % (15 * 60_000))
  return undefined
}

// Reads a token endpoint's common fields; a module adds what its provider names differently.
export function bearerTokens (body: Record<string, unknown>, now: Date, externalUserId: string | null) {
  const accessToken = body.access_token
  if (typeof accessToken !== 'string' || accessToken === '') throw new ProviderHttpError('token endpoint', 502)
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : null
  return {
    accessToken,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : null,
    expiresAt: expiresIn === null ? null : new Date(now.getTime() + expiresIn * 1000),
    scope: typeof body.scope === 'string' ? body.scope : null,
    externalUserId
  }
}
