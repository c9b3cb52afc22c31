import { test } from 'tap'
import { withLargestForTwo } from '../../bench/lib/scaling-live.ts'

test('the live curve adds the largest size two instances can hold when a size asked for needs more', async (t) => {
  t.same(withLargestForTwo([5000, 10000, 20000, 40000], 20000), [5000, 10000, 20000, 39000, 40000], 'under 20,000 open files: 39,000 on two instances')
  t.same(withLargestForTwo([5000, 10000, 20000, 40000], 65536), [5000, 10000, 20000, 40000], 'nothing added where two instances hold every size')
  t.same(withLargestForTwo([5000, 39000, 40000], 20000), [5000, 39000, 40000], 'nor where it was asked for')
})
