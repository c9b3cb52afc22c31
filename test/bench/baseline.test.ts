import { test } from 'tap'
import { createBaselineReadings, medianReading } from '../../bench/lib/baseline.ts'
import type { LoadResult } from '../../bench/lib/http.ts'

function reading (rps: number): LoadResult {
  return { requests: rps * 10, rps, p50: 1, p99: 2, errors: 0, non2xx: 0, cpuUsPerRequest: 1_000_000 / rps, usage: { maxRss: 0, endRss: 0, cpuPercent: 0, cpuMs: 0 } }
}

// No load runs here: the readings come from a list, so the bracketing itself is what is checked.
test('each scenario is compared with the readings just before and just after it', async (t) => {
  const rates = [30_000, 40_000, 50_000]
  const baseline = createBaselineReadings(async () => reading(rates.shift()!))
  const order: string[] = []

  const first = await baseline.between(async () => { order.push('first scenario'); return 'a' })
  t.same(first, { result: 'a', bracket: { rps: 35_000, before: 30_000, after: 40_000 } }, 'a first reading is taken before the first scenario')
  const second = await baseline.between(async () => { order.push('second scenario'); return 'b' })
  t.same(second.bracket, { rps: 45_000, before: 40_000, after: 50_000 }, 'the reading after one scenario is the one before the next')
  t.same(baseline.readings.map((r) => r.rps), [30_000, 40_000, 50_000], 'one reading between scenarios, none twice')
  t.same(order, ['first scenario', 'second scenario'])
})

test('a scenario that fails takes no reading after it', async (t) => {
  const baseline = createBaselineReadings(async () => reading(40_000))
  await t.rejects(baseline.between(async () => { throw new Error('service down') }), /service down/)
  t.equal(baseline.readings.length, 1)
})

test('the median reading stands for the baseline', async (t) => {
  t.equal(medianReading([reading(50_000), reading(30_000), reading(40_000)]).rps, 40_000)
  t.equal(medianReading([reading(50_000), reading(30_000), reading(40_000), reading(45_000)]).rps, 40_000, 'the lower middle of an even count')
  t.equal(medianReading([reading(42_000)]).rps, 42_000)
})
