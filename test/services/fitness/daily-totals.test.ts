import { test } from 'tap'
import { combinedDayTotals } from '../../../services/fitness/daily-totals.ts'

test('combined day totals: the largest source per day and metric, 0 for a day left empty, ordered by day then metric', async (t) => {
  const days = [
    { metric: 'steps' as const, day: '2026-11-02' },
    { metric: 'distance_m' as const, day: '2026-11-01' },
    { metric: 'steps' as const, day: '2026-11-01' },
    { metric: 'steps' as const, day: '2026-11-02' },
    { metric: 'steps' as const, day: '2026-11-03' }
  ]
  const totals = [
    { metric: 'steps' as const, day: '2026-11-02', source: 'garmin', value: 4200 },
    { metric: 'steps' as const, day: '2026-11-02', source: 'healthkit', value: 4800 },
    { metric: 'steps' as const, day: '2026-11-01', source: 'healthkit', value: 900 },
    { metric: 'distance_m' as const, day: '2026-11-01', source: 'garmin', value: 1500.5 }
  ]
  t.same(combinedDayTotals(days, totals), [
    { day: '2026-11-01', metric: 'distance_m', value: 1500.5 },
    { day: '2026-11-01', metric: 'steps', value: 900 },
    { day: '2026-11-02', metric: 'steps', value: 4800 },
    { day: '2026-11-03', metric: 'steps', value: 0 }
  ])
  t.same(combinedDayTotals([], totals), [])
})
