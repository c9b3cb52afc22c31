import type { LoadResult } from './http.ts'

// The bare Fastify hello-world, measured again after every HTTP scenario. On a shared host its
// rate drifts by a third within minutes (28,000 -> 45,000 req/s in one run), so a scenario is
// compared with the two readings taken just before and just after it, not with readings from
// the two ends of the run.
export interface Bracket { rps: number, before: number, after: number }

export interface BaselineReadings {
  // Takes one more reading.
  take: () => Promise<LoadResult>
  // Runs a scenario between two readings: the last one taken (or a first one) and a new one.
  between: <T>(run: () => Promise<T>) => Promise<{ result: T, bracket: Bracket }>
  // Every reading so far, in the order taken.
  readings: LoadResult[]
}

export function createBaselineReadings (measure: () => Promise<LoadResult>): BaselineReadings {
  const readings: LoadResult[] = []

  async function take (): Promise<LoadResult> {
    const reading = await measure()
    readings.push(reading)
    return reading
  }

  async function between<T> (run: () => Promise<T>): Promise<{ result: T, bracket: Bracket }> {
    const before = readings.at(-1) ?? await take()
    const result = await run()
    const after = await take()
    return { result, bracket: { rps: (before.rps + after.rps) / 2, before: before.rps, after: after.rps } }
  }

  return { take, between, readings }
}

// The reading with the median rate: its latency and CPU figures stand for the baseline.
export function medianReading (readings: LoadResult[]): LoadResult {
  const sorted = [...readings].sort((a, b) => a.rps - b.rps)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
