import { test } from 'tap'
import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { memoryReducingCollection, startIdleCollector, type IdleCollection } from '../../lib/idle-collector.ts'

// The collector watches the real event loop: busy spells are real CPU work on this loop.

const FAST = { sampleMs: 20, quietMs: 150, busyUtilization: 0.5 }

// Keeps the event loop almost fully busy for `ms`, yielding often enough for timers to run.
async function busyFor (ms: number): Promise<void> {
  const end = performance.now() + ms
  while (performance.now() < end) {
    const slice = performance.now() + 15
    while (performance.now() < slice) { /* work */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

function counting (minIntervalMs = 0) {
  const collections: IdleCollection[] = []
  let calls = 0
  const collector = startIdleCollector({ ...FAST, minIntervalMs, collect: () => { calls++ }, onCollect: (c) => collections.push(c) })
  return { collector, calls: () => calls, collections }
}

test('collects once the loop has been quiet for a while after start-up, then not again while it stays quiet', async (t) => {
  const { collector, calls, collections } = counting()
  t.teardown(collector.stop)
  await sleep(80)
  t.equal(calls(), 0, 'not before the quiet time has passed')
  await sleep(300)
  t.equal(calls(), 1)
  t.ok(collections[0]!.rssBefore > 0 && collections[0]!.rssAfter > 0 && collections[0]!.ms >= 0, 'reports what it did')
  await sleep(300)
  t.equal(calls(), 1, 'an idle process is collected once, not on every sample')
})

test('never collects while the loop is busy, and collects after the busy spell ends', async (t) => {
  const { collector, calls } = counting()
  t.teardown(collector.stop)
  await sleep(300)
  t.equal(calls(), 1, 'after start-up')
  await busyFor(500)
  t.equal(calls(), 1, 'nothing during the busy spell')
  await sleep(400)
  t.equal(calls(), 2, 'once after it')
})

test('keeps the minimum interval between collections', async (t) => {
  const { collector, calls } = counting(1500)
  t.teardown(collector.stop)
  await sleep(300)
  t.equal(calls(), 1)
  await busyFor(200)
  await sleep(400)
  t.equal(calls(), 1, 'quiet again, but too soon after the last collection')
  await sleep(1300)
  t.equal(calls(), 2, 'once the interval has passed')
})

test('without --expose-gc there is no collection to schedule', async (t) => {
  t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the suite runs without the flag')
  t.equal(memoryReducingCollection(), null)
})

test('with --expose-gc the collection hands a grown heap back', async (t) => {
  // A child process, so the flag and the heap are its own.
  const script = `
    import v8 from 'node:v8'
    import { memoryReducingCollection } from ${JSON.stringify(new URL('../../lib/idle-collector.ts', import.meta.url).href)}
    let keep = []
    for (let i = 0; i < 400000; i++) keep.push({ i, s: 'x' + i })
    gc({ type: 'major' })
    keep = null
    for (let i = 0; i < 200000; i++) new Array(8).fill(i)
    const before = v8.getHeapStatistics().total_physical_size
    memoryReducingCollection()()
    const after = v8.getHeapStatistics().total_physical_size
    console.log(JSON.stringify({ before, after }))
  `
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', script])
  const { before, after } = JSON.parse(stdout) as { before: number, after: number }
  t.ok(after < before - 10 * 1048576, `heap ${Math.round(before / 1048576)} -> ${Math.round(after / 1048576)} MB`)
})
