import { test } from 'tap'
import { compareReport } from '../../bench/lib/compare.ts'

// The compare mode's verdict from readings given here: nothing is built or measured.
test('the comparison prints every round\'s readings and the ratio of the medians with its per-round range', async (t) => {
  const report = compareReport('abc123', [{
    scenario: 'score',
    before: [{ cpuUsPerRequest: 150, rps: 4000 }, { cpuUsPerRequest: 130, rps: 4600 }, { cpuUsPerRequest: 140, rps: 4400 }],
    after: [{ cpuUsPerRequest: 120, rps: 4800 }, { cpuUsPerRequest: 130, rps: 4600 }, { cpuUsPerRequest: 112, rps: 5000 }]
  }], 3)
  t.match(report, /^Working tree against abc123, 3 alternating rounds/)
  const row = report.split('\n').find((line) => line.startsWith('| score |'))
  t.equal(row, '| score | 150, 130, 140 | 120, 130, 112 | 0.86 x (rounds 0.80-1.00) | 4000, 4600, 4400 | 4800, 4600, 5000 | 1.09 x (rounds 1.00-1.20) |')
})
