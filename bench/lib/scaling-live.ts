import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { startHarness, type Harness } from './harness.ts'
import { competitionId, userId } from './ids.ts'
import { rssOf } from './processes.ts'
import { int, median, ratio } from './report.ts'
import { seed } from './seed.ts'
import type { ScalingContext } from './scaling-context.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// The live feed split across service instances: two, or more where one instance could not
// hold its share under the open-file limit; one score update sent to the first, its frame
// reaching the other instances' sockets through Redis pub/sub. Sockets are held by harness
// processes of at most PER_HARNESS each (a process's open-file limit); one of them sends the
// update, the others only wait for the frame, and arrivals are compared on the machine's clock.
const PER_HARNESS = 9000
const ROUNDS = 5
// Files an instance keeps open besides its sockets (Postgres, Redis, listeners, logs).
const INSTANCE_FILES = 500

interface Arrivals { t0: number, firstAt: number | null, lastAt: number | null, arrivals: number, sockets: number }
interface Point { sockets: number, instances: number, opened: number, failed: Record<string, number>, connectMs: number, lastMs: number[], spreadMs: number[], missed: number, bytesPerSocket: number }

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

// The soft limit on open files this process (and the services it starts) runs with.
export function openFileLimit (): number {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
  return m ? Number(m[1]) : 1024
}

// The sizes asked for, and where one needs more than two instances, also the largest number
// of sockets (in thousands) two instances can hold here, so the curve over exactly two goes as
// far as this machine allows.
export function withLargestForTwo (sizes: number[], limit: number): number[] {
  const largest = Math.floor(2 * (limit - INSTANCE_FILES) / 1000) * 1000
  if (!sizes.some((n) => n > largest) || sizes.includes(largest)) return sizes
  return [...sizes, largest].sort((a, b) => a - b)
}

export async function liveCurve (ctx: ScalingContext, opts: { sizes: number[], plotDir: string }): Promise<Curve> {
  const limit = openFileLimit()
  const instancesFor = (n: number) => Math.max(2, Math.ceil(n / (limit - INSTANCE_FILES)))
  const sizes = withLargestForTwo([...opts.sizes].sort((a, b) => a - b), limit)
  const points: Point[] = []
  const id = competitionId('live')
  await ctx.withStores(async (stores) => {
    const largest = Math.max(...sizes)
    await seed(stores.databaseUrl, { users: largest, competitions: [{ name: 'live', metric: 'custom', size: largest }] })
    const services = [await ctx.startService(stores, 'live-1'), await ctx.startService(stores, 'live-2')]
    const ta = ctx.target(services[0]!)
    const rebuilt = await fetch(`${ta.base}/api/v1/admin/leaderboard/${id}/rebuild`, { method: 'POST', headers: { authorization: `Bearer ${ctx.tokens.service}` } })
    if (!rebuilt.ok) throw new Error(`rebuild failed: ${rebuilt.status}`)
    // The leader's update is in every socket's view (its top 50), so every socket gets a frame.
    const db = new pg.Client({ connectionString: stores.databaseUrl })
    await db.connect()
    const leader = (await db.query<{ user_id: string }>('SELECT user_id FROM participants WHERE competition_id = $1 ORDER BY score DESC, reached_at, user_id LIMIT 1', [id])).rows[0]!.user_id
    await db.end()
    for (const n of sizes) {
      if (ctx.timeLeftMs() < 180_000) { ctx.log(`live: stopping before ${int(n)} sockets (deadline)`); break }
      const instances = instancesFor(n)
      while (services.length < instances) services.push(await ctx.startService(stores, `live-${services.length + 1}`))
      const used = services.slice(0, instances)
      const rss = () => used.reduce((sum, s) => sum + rssOf(s.pid), 0)
      await sleep(2000)
      const idle = rss()
      const harnesses: Harness[] = Array.from({ length: Math.ceil(n / PER_HARNESS) }, () => ctx.track(startHarness()))
      const started = Date.now()
      const wsBases = used.map((service) => ctx.target(service).base.replace('http', 'ws'))
      // Socket i belongs to user i + 1 and connects to instance i mod the instances.
      const connected = await Promise.all(harnesses.map(async (h, k) => {
        const mine = Array.from({ length: n }, (_, i) => i).filter((i) => i % harnesses.length === k)
        const urls = mine.map((i) => `${wsBases[i % instances]!}/ws/leaderboard/${id}?token=${ctx.tokens.user(i + 1)}`)
        return await h.call<{ opened: number, failed: Record<string, number> }>({
          cmd: 'connect', urls, concurrency: 32, waitFirstFrame: true, views: mine.map((i) => ({ userId: userId(i + 1), limit: 50 })), timeoutMs: 60_000
        })
      }))
      const connectMs = Date.now() - started
      await sleep(2000)
      const opened = connected.reduce((s, c) => s + c.opened, 0)
      const failed: Record<string, number> = {}
      for (const c of connected) for (const [k, v] of Object.entries(c.failed)) failed[k] = (failed[k] ?? 0) + v
      const bytesPerSocket = (rss() - idle) / Math.max(1, opened)
      ctx.log(`live ${int(n)}: ${int(opened)} sockets open on ${instances} instances in ${connectMs} ms`, failed)
      const lastMs: number[] = []
      const spreadMs: number[] = []
      let missed = 0
      for (let r = 0; r < ROUNDS; r++) {
        const waiting = harnesses.slice(1).map(async (h) => await h.call<Arrivals>({ cmd: 'fanout', timeoutMs: 10_000 }))
        await sleep(50)
        const trigger = {
          url: `${ta.base}/api/v1/leaderboard/update`,
          method: 'POST',
          headers: { authorization: `Bearer ${ctx.tokens.service}`, 'content-type': 'application/json', 'idempotency-key': `live-${n}-${r}-${Date.now()}` },
          body: JSON.stringify({ competitionId: id, userId: leader, operation: 'increment', value: 1 })
        }
        const answers = [await harnesses[0]!.call<Arrivals>({ cmd: 'fanout', trigger, timeoutMs: 10_000 }), ...await Promise.all(waiting)]
        const t0 = answers[0]!.t0
        const firsts = answers.flatMap((x) => x.firstAt ?? [])
        const lasts = answers.flatMap((x) => x.lastAt ?? [])
        missed += answers.reduce((s, x) => s + x.sockets - x.arrivals, 0)
        if (lasts.length > 0) { lastMs.push(Math.max(...lasts) - t0); spreadMs.push(Math.max(...lasts) - Math.min(...firsts)) }
        await sleep(500)
      }
      ctx.log(`live ${int(n)}: to the last arrival ${lastMs.map((x) => x.toFixed(0)).join(', ')} ms; ${Math.round(bytesPerSocket)} B per socket`)
      points.push({ sockets: n, instances, opened, failed, connectMs, lastMs, spreadMs, missed, bytesPerSocket })
      for (const h of harnesses) { await h.call({ cmd: 'close' }); await h.stop() }
    }
  })
  if (points.length === 0) throw new Error('no size measured before the deadline')

  await writePlot(join(opts.plotDir, 'live-broadcast.svg'), {
    title: 'One update to every socket, across the instances',
    x: { title: 'sockets (split evenly over the instances)' },
    y: { title: 'ms (median of rounds)' },
    points: points.flatMap((p) => [
      { x: p.sockets, y: median(p.lastMs), series: 'update sent to last arrival' },
      { x: p.sockets, y: median(p.spreadMs), series: 'first to last arrival' }
    ])
  })
  await writePlot(join(opts.plotDir, 'live-memory.svg'), {
    title: 'Memory per socket (all instances)',
    x: { title: 'sockets' },
    y: { title: 'RSS growth per socket (KB)' },
    points: points.map((p) => ({ x: p.sockets, y: p.bytesPerSocket / 1024, series: 'RSS growth / sockets' }))
  })
  const first = points[0]!
  const last = points.at(-1)!
  const growthTo = (p: Point) => ({ time: median(p.lastMs) / Math.max(0.01, median(first.lastMs)), sockets: p.sockets / first.sockets })
  const growth = growthTo(last)
  // The largest size held by exactly two instances, when the last needed more.
  const onTwo = points.filter((p) => p.instances === 2).at(-1)
  const twoGrowth = onTwo && onTwo !== last ? growthTo(onTwo) : null
  return {
    key: 'live',
    title: 'Live feed over two instances',
    method: [
      'Services on the same database and Redis prefix: two, and more for a size where one of two instances would hold more sockets than a process may open files ' +
        `(${int(limit)} on this machine, less ${INSTANCE_FILES} for the instance's own; such a size is preceded by the largest, in thousands, that exactly two instances can hold); a competition with one participant per socket; socket i (user i + 1) subscribes to ` +
        '`/ws/leaderboard/{id}` on instance i mod the instances, and keeps its view as a client does. ' +
        `Harness processes (bench/ws-harness.ts) hold at most ${int(PER_HARNESS)} sockets each. Per size, ${ROUNDS} rounds: one durable score update of the leader (in every socket's top 50) is sent to the first ` +
        'instance and the time from sending it to the last socket receiving its frame, on any instance, is taken (the frame reaches the other instances through Redis pub/sub; the time ' +
        'includes the Postgres commit, the Redis script and the 100 ms coalescing tick). Memory per socket: the instances\' RSS 2 s after the last socket opened, less their RSS before, over the sockets.'
    ],
    columns: ['sockets', 'instances', 'open (failures)', 'connect time', 'update to last arrival: median (rounds)', 'first to last arrival: median', 'missed frames', 'RSS per socket'],
    rows: points.map((p) => [
      int(p.sockets), String(p.instances), `${int(p.opened)} (${JSON.stringify(p.failed)})`, `${(p.connectMs / 1000).toFixed(1)} s`,
      `${median(p.lastMs).toFixed(0)} ms (${p.lastMs.map((x) => x.toFixed(0)).join(', ')})`, `${median(p.spreadMs).toFixed(0)} ms`, int(p.missed), `${(p.bytesPerSocket / 1024).toFixed(1)} KB`
    ]),
    plots: ['scaling/live-broadcast.svg', 'scaling/live-memory.svg'],
    targets: [{
      text: 'broadcast time growing no faster than the number of sockets',
      met: points.length > 1 ? growth.time <= growth.sockets && (twoGrowth === null || twoGrowth.time <= twoGrowth.sockets) && points.every((p) => p.missed === 0) : null,
      detail: `${ratio(growth.time)} the time for ${ratio(growth.sockets)} the sockets (${int(first.sockets)} -> ${int(last.sockets)} on ${last.instances} instances)` +
        (twoGrowth && onTwo ? `; over exactly two instances ${ratio(twoGrowth.time)} the time for ${ratio(twoGrowth.sockets)} the sockets (${int(first.sockets)} -> ${int(onTwo.sockets)})` : '')
    }],
    notes: []
  }
}
