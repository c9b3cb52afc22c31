import { test } from 'tap'
import { createWriteBatcher } from '../../../services/leaderboard/write-batcher.ts'

function deferred () {
  let release!: () => void
  const promise = new Promise<void>((resolve) => { release = resolve })
  return { promise, release }
}

test('writes submitted while a batch is in flight go together in the next batch, each answered with its own result', async (t) => {
  const batches: number[][] = []
  const gate = deferred()
  const batcher = createWriteBatcher(async (items: number[]) => {
    batches.push(items)
    if (batches.length === 1) await gate.promise
    return items.map((n) => n * 10)
  }, { maxBatch: 3, maxInFlight: 1 })
  const first = batcher.submit(1)
  const rest = [2, 3, 4, 5, 6].map((n) => batcher.submit(n))
  t.equal(batcher.pending(), 6)
  gate.release()
  t.same(await Promise.all([first, ...rest]), [10, 20, 30, 40, 50, 60])
  t.same(batches, [[1], [2, 3, 4], [5, 6]], 'a lone write goes at once; later ones share batches of at most maxBatch')
  t.equal(batcher.pending(), 0)
})

test('a batch failing on its data is retried item by item, so only the item at fault fails', async (t) => {
  const batches: number[][] = []
  const gate = deferred()
  const batcher = createWriteBatcher(async (items: number[]) => {
    batches.push(items)
    if (batches.length === 1) await gate.promise
    if (items.includes(3)) throw Object.assign(new Error('value out of range'), { code: '22003' })
    return items
  }, { maxBatch: 10, maxInFlight: 1 })
  const held = batcher.submit(0)
  const results = [1, 2, 3, 4].map(async (n) => await batcher.submit(n).then((v) => `ok ${v}`, (err) => `failed ${err.code}`))
  gate.release()
  await held
  t.same(await Promise.all(results), ['ok 1', 'ok 2', 'failed 22003', 'ok 4'])
  t.same(batches, [[0], [1, 2, 3, 4], [1], [2], [3], [4]])
})

test('a batch failing on the connection fails every item of it at once', async (t) => {
  let calls = 0
  const batcher = createWriteBatcher(async (items: number[]) => {
    calls++
    if (items.length > 1) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    await new Promise((resolve) => setImmediate(resolve))
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  }, { maxBatch: 10, maxInFlight: 1 })
  const results = await Promise.allSettled([1, 2, 3].map(async (n) => await batcher.submit(n)))
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
  t.equal(calls, 2, 'the first write alone, then the other two together; no retries item by item')
})
