import {
  BrokenCircuitError, CircuitState, ConsecutiveBreaker, DelegateBackoff, TaskCancelledError, TimeoutStrategy,
  circuitBreaker, handleWhen, retry, timeout, wrap, type IRetryBackoffContext
} from 'cockatiel'
import { errors } from '../../lib/errors.ts'
import { ProviderHttpError } from './types.ts'

export interface ResilienceOptions {
  // Used in messages, e.g. "Google Fit".
  label: string
  // Per attempt.
  timeoutMs: number
  // Retries after the first attempt.
  retries: number
  backoffBaseMs: number
  // Cap on one wait, and the longest Retry-After honoured: past it we give up at once and
  // hand the wait to our caller instead of holding their request open.
  backoffMaxMs: number
  // Consecutive failed attempts that open the circuit.
  breakerThreshold: number
  // How long the circuit stays open before one trial call is let through.
  halfOpenAfterMs: number
  onStateChange?: (state: 'closed' | 'open' | 'half_open') => void
}

export type ServiceUnavailableError = Error & { retryAfterSeconds?: number }

// Errors that say the provider is unwell (not that our request was wrong): they count towards
// opening the circuit. A 429 is the provider protecting itself, so it is retried but does not
// count as an outage.
function isOutage (err: unknown): boolean {
  if (err instanceof ProviderHttpError) return err.status >= 500
  if (err instanceof TaskCancelledError) return true
  // fetch: network failures are TypeErrors, an aborted request an AbortError.
  return err instanceof TypeError || (err instanceof Error && err.name === 'AbortError')
}

function unavailable (message: string, retryAfterMs: number): ServiceUnavailableError {
  return Object.assign(errors.ServiceUnavailable(message), { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) })
}

// Timeout per attempt, inside a circuit breaker, inside retries with exponential backoff and
// jitter that honour Retry-After. One instance per provider, shared by all requests.
export function createResilience (opts: ResilienceOptions) {
  const retryable = (err: unknown): boolean => {
    if (err instanceof ProviderHttpError && (err.status === 429 || err.status >= 500)) {
      return (err.retryAfterMs ?? 0) <= opts.backoffMaxMs
    }
    return isOutage(err)
  }

  // "Equal jitter": half the exponential step fixed, half random, so synchronised clients
  // spread out. A Retry-After from the provider is a floor.
  const backoff = new DelegateBackoff((ctx: IRetryBackoffContext<unknown>) => {
    const step = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * 2 ** (ctx.attempt - 1))
    const jittered = step / 2 + Math.random() * (step / 2)
    const err = 'error' in ctx.result ? ctx.result.error : undefined
    const retryAfter = err instanceof ProviderHttpError ? err.retryAfterMs : undefined
    return retryAfter === undefined ? jittered : Math.min(opts.backoffMaxMs, Math.max(retryAfter, jittered))
  })

  const retryPolicy = retry(handleWhen(retryable), { maxAttempts: opts.retries, backoff })
  const breaker = circuitBreaker(handleWhen(isOutage), {
    breaker: new ConsecutiveBreaker(opts.breakerThreshold),
    halfOpenAfter: opts.halfOpenAfterMs
  })
  const timeoutPolicy = timeout(opts.timeoutMs, TimeoutStrategy.Aggressive)
  const policy = wrap(retryPolicy, breaker, timeoutPolicy)

  let openedAt = 0
  breaker.onBreak(() => { openedAt = Date.now() })
  breaker.onStateChange((state) => {
    opts.onStateChange?.(state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half_open' : 'open')
  })

  function toClientError (err: unknown): unknown {
    if (err instanceof BrokenCircuitError) {
      const waitMs = Math.max(0, openedAt + opts.halfOpenAfterMs - Date.now())
      return unavailable(`${opts.label} is failing and calls to it are paused (circuit open); retry in ${Math.ceil(waitMs / 1000)} s`, waitMs)
    }
    if (err instanceof TaskCancelledError) {
      return unavailable(`${opts.label} did not answer within ${opts.timeoutMs} ms`, opts.backoffMaxMs)
    }
    if (err instanceof ProviderHttpError) return Object.assign(clientErrorOf(err), { providerStatus: err.status })
    if (isOutage(err)) return unavailable(`${opts.label} could not be reached`, opts.backoffMaxMs)
    return err
  }

  // The provider's own status stays on the error (providerStatus): a job that gets a 401
  // refreshes the token and tries again.
  function clientErrorOf (err: ProviderHttpError): Error {
    if (err.status === 401 || err.status === 403) return errors.Unprocessable(`${opts.label} rejected the access token (HTTP ${err.status})`)
    if (err.status === 429) return unavailable(`${opts.label} is rate limiting requests; retry later`, err.retryAfterMs ?? opts.backoffMaxMs)
    if (err.status >= 500) return unavailable(`${opts.label} is unavailable (HTTP ${err.status})`, err.retryAfterMs ?? opts.backoffMaxMs)
    return errors.Unprocessable(`${opts.label} refused the request (HTTP ${err.status})`)
  }

  return {
    async execute<T> (fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      try {
        return await policy.execute(async ({ signal }) => await fn(signal))
      } catch (err) {
        throw toClientError(err)
      }
    },
    state (): 'closed' | 'open' | 'half_open' {
      const s = breaker.state
      return s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half_open' : 'open'
    }
  }
}

export type Resilience = ReturnType<typeof createResilience>
