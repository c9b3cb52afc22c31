import type { Metric } from '../../schemas/fitness.ts'
import { addDays, zoneDay, zoneDayStart } from '../shared/time-zones.ts'
import type { Resilience } from './resilience.ts'
import { ProviderHttpError, parseRetryAfter, type DayRange, type FitnessProvider, type ProviderDay } from './types.ts'

// Google Fit REST: users.dataset.aggregate with one bucket per local day. Calories are not
// pulled: com.google.calories.expended includes the basal rate, which is not "active" energy.
const DATA_TYPES: Record<string, { metric: Metric, field: 'intVal' | 'fpVal' }> = {
  'com.google.step_count.delta': { metric: 'steps', field: 'intVal' },
  'com.google.distance.delta': { metric: 'distance_m', field: 'fpVal' },
  'com.google.active_minutes': { metric: 'active_minutes', field: 'intVal' }
}

interface AggregateResponse {
  bucket?: Array<{
    startTimeMillis: string | number
    endTimeMillis: string | number
    dataset?: Array<{
      dataSourceId?: string
      point?: Array<{ dataTypeName?: string, value?: Array<{ intVal?: number, fpVal?: number }> }>
    }>
  }>
}

export interface GoogleFitOptions {
  // https://www.googleapis.com in production; a local fake in tests.
  baseUrl: string
  resilience: Resilience
  onAttempt?: (outcome: 'ok' | 'retryable' | 'rejected' | 'error') => void
}

function toDays (body: AggregateResponse, timeZone: string): ProviderDay[] {
  // A body we cannot read is treated like a server error: retried, and counted by the breaker.
  if (!Array.isArray(body.bucket)) throw new ProviderHttpError('Google Fit', 502)
  return body.bucket.map((bucket) => {
    const start = new Date(Number(bucket.startTimeMillis))
    const values: ProviderDay['values'] = { steps: 0, distance_m: 0, active_minutes: 0 }
    for (const dataset of bucket.dataset ?? []) {
      for (const point of dataset.point ?? []) {
        const type = DATA_TYPES[point.dataTypeName ?? '']
        if (type === undefined) continue
        const value = Number(point.value?.[0]?.[type.field] ?? 0)
        values[type.metric] = (values[type.metric] ?? 0) + (Number.isFinite(value) && value > 0 ? value : 0)
      }
    }
    return { day: zoneDay(start, timeZone), start, end: new Date(Number(bucket.endTimeMillis)), values }
  })
}

export function createGoogleFitProvider (opts: GoogleFitOptions): FitnessProvider {
  const url = new URL('/fitness/v1/users/me/dataset:aggregate', opts.baseUrl).toString()

  async function request (range: DayRange, signal: AbortSignal): Promise<ProviderDay[]> {
    const res = await fetch(url, {
      method: 'POST',
      signal,
      headers: { authorization: `Bearer ${range.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        aggregateBy: Object.keys(DATA_TYPES).map((dataTypeName) => ({ dataTypeName })),
        // Calendar days in the user's zone, so DST days are 23 or 25 hours long.
        bucketByTime: { period: { type: 'day', value: 1, timeZoneId: range.timeZone } },
        startTimeMillis: zoneDayStart(range.from, range.timeZone).getTime(),
        endTimeMillis: zoneDayStart(addDays(range.to, 1), range.timeZone).getTime()
      })
    })
    if (!res.ok) {
      await res.body?.cancel()
      const retryable = res.status === 429 || res.status >= 500
      opts.onAttempt?.(retryable ? 'retryable' : 'rejected')
      throw new ProviderHttpError('Google Fit', res.status, parseRetryAfter(res.headers.get('retry-after')))
    }
    const body = await res.json().catch(() => ({})) as AggregateResponse
    const days = toDays(body, range.timeZone)
    opts.onAttempt?.('ok')
    return days
  }

  return {
    name: 'google_fit',
    source: 'google_fit',
    label: 'Google Fit',
    async fetchDays (range: DayRange): Promise<ProviderDay[]> {
      return await opts.resilience.execute(async (signal) => {
        try {
          return await request(range, signal)
        } catch (err) {
          if (!(err instanceof ProviderHttpError)) opts.onAttempt?.('error')
          throw err
        }
      })
    }
  }
}
