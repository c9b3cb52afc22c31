import { test } from 'tap'
import { median } from '../../bench/lib/report.ts'

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
