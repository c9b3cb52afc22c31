import { test } from 'tap'
import { median, ratioOfMedians } from '../../bench/lib/report.ts'

// The scaling verdicts and the commit comparison both rest on this.
test('median: the middle reading, the mean of the middle two for an even count, 0 for none', async (t) => {
  t.equal(median([130, 76, 101]), 101)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([7]), 7)
  t.equal(median([]), 0)
  const readings = [3, 1, 2]
  median(readings)
  t.same(readings, [3, 1, 2], 'the readings are left in their order')
})

test('ratioOfMedians: after / before of the medians, and each round\'s own ratio', async (t) => {
  const { ratio, perRound } = ratioOfMedians([100, 80, 120], [90, 100, 60])
  t.equal(ratio, 0.9, '90 against 100')
  t.same(perRound, [0.9, 1.25, 0.5])
})
