import { test } from 'tap'
import { createTicker, type TickerDeps } from '../../../services/live/ticker.ts'
import type { FlushResult } from '../../../services/leaderboard/replies.ts'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

function setup (t: { teardown: (fn: () => void) => void }, opts: Partial<TickerDeps> & { results?: FlushResult[] } = {}) {
  const flushed: string[] = []
  const failed: string[] = []
  const results = opts.results ?? []
  const ticker = createTicker({
    flush: async (competitionId) => { flushed.push(competitionId); return results.shift() ?? { kind: 'framed', seq: flushed.length } },
    tickMs: 20,
    sweepMs: 60_000,
    watched: () => [],
    onFailed: (competitionId) => { failed.push(competitionId) },
    ...opts
  })
  t.teardown(() => ticker.close())
  return { ticker, flushed, failed }
}

test('changes within a tick are coalesced into one frame per competition', async (t) => {
  const { ticker, flushed } = setup(t)
  for (let i = 0; i < 5; i++) ticker.changed('a')
  ticker.changed('b')
  t.same(flushed, [], 'nothing before the tick ends')
  await sleep(60)
  t.same(flushed.sort(), ['a', 'b'])
  ticker.changed('a')
  await sleep(60)
  t.same(flushed.filter((id) => id === 'a').length, 2, 'a later change gets the next tick')
})

test('a frame made elsewhere less than a tick ago: tried again when that tick ends', async (t) => {
  const { ticker, flushed } = setup(t, { results: [{ kind: 'tooSoon', retryInMs: 30 }] })
  ticker.changed('a')
  await sleep(35)
  t.same(flushed, ['a'])
  await sleep(60)
  t.same(flushed, ['a', 'a'], 'retried once')
})

test('a failed frame is reported; the watched competitions are swept; close stops everything', async (t) => {
  const { ticker, failed } = setup(t, { flush: async () => { throw new Error('redis down') } })
  await ticker.tick('a')
  t.same(failed, ['a'])

  let watched = ['w1', 'w2']
  const swept = setup(t, { sweepMs: 20, watched: () => watched })
  await sleep(50)
  t.ok(swept.flushed.includes('w1') && swept.flushed.includes('w2'), 'both watched competitions framed')
  watched = []
  swept.ticker.changed('x')
  swept.ticker.close()
  const count = swept.flushed.length
  await sleep(60)
  t.equal(swept.flushed.length, count, 'no frame after close')
})
