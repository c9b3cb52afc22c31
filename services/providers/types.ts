import type { Metric, ProviderName, Source } from '../../schemas/fitness.ts'

// What a server-side fitness provider must offer. Google Fit implements it today; a successor
// (Google Health API, Strava, Garmin, Fitbit) implements the same and the rest of the domain,
// which only sees per-day totals, does not change.
export interface DayRange {
  accessToken: string
  // The user's IANA zone: days are the user's local days.
  timeZone: string
  from: string
  to: string
}

export interface ProviderDay {
  day: string
  start: Date
  end: Date
  // A metric the provider reports but had nothing for is 0; one it does not report is absent.
  values: Partial<Record<Metric, number>>
}

export interface FitnessProvider {
  readonly name: ProviderName
  // The sample source its data is stored under.
  readonly source: Source
  // Human-readable, for error messages.
  readonly label: string
  fetchDays: (range: DayRange) => Promise<ProviderDay[]>
}

// An HTTP answer from a provider that was not a success.
export class ProviderHttpError extends Error {
  readonly status: number
  readonly retryAfterMs: number | undefined

  constructor (provider: string, status: number, retryAfterMs?: number) {
    super(`${provider} answered HTTP ${status}`)
    this.name = 'ProviderHttpError'
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

// Retry-After is either delta-seconds or an HTTP date.
export function parseRetryAfter (value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
