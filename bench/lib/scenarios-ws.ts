import pg from 'pg'
import { Redis } from 'ioredis'
import { competitionKey } from '../../lib/redis-keys.ts'
import type { Harness } from './harness.ts'
import { competitionId, userId } from './ids.ts'
import { rssOf, sampleUsage } from './processes.ts'
import { median } from './report.ts'
import { scoreUpdates, type ScoreCheck, type Target } from './scenarios-http.ts'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

interface Connected { opened: number, failed: Record<string, number>, ms: number, firstFrameBytes: number }
interface FanoutAnswer { status: number, answeredMs: number, firstMs: number | null, lastMs: number | null, arrivals: number, sockets: number, open: number, frameBytes: number, frame: string }
interface BurstAnswer {
  sockets: number
  updates: { total: number, min: number, max: number }
  // Update and rank frames together.
  frames: { total: number, max: number }
  withUpdates: number
  updateBytes: number
  ranks: number
  other: number
  outOfOrder: number
  closed: Record<string, number>
}
interface CheckAnswer { checked: number, converged: number, topWrong: number, meWrong: number, example: unknown }

export interface FanoutResult {
  rounds: number
  // Medians over the rounds, in ms from the trigger request leaving the harness.
  first: number
  last: number
  // Last arrival minus first arrival: the broadcast itself (median, and the range over rounds).
  spread: number
  spreadMin: number
  spreadMax: number
  arrivals: number
  sockets: number
  frameBytes: number
  frame: string
}

export interface BurstResult {
  seconds: number
  offeredPerSecond: number
  updatesPerSecond: number
  updateP99: number
  framesPerClientPerSecond: { avg: number, max: number }
  rankFramesPerClientPerSecond: number
  // Update and rank frames per client per second, and the clients that got any update.
  allFramesPerClientPerSecond: { avg: number, max: number }
  clientsWithUpdates: number
  avgFrameBytes: number
  // Frames whose seq was not above the client's last one (two in a tick, or out of order);
  // seq jumps are normal (frames with nothing for the client are not sent).
  gaps: number
  closed: Record<string, number>
  // Every client's view (its top `limit` and own rank and score) checked against Postgres:
  // clientsAtFinalSeq counts the clients whose view is the final state; sampleClients the
  // clients checked and sampleMismatches those whose view differs.
  converged: { clientsAtFinalSeq: number, sockets: number, finalSeq: number | null, sampleClients: number, sampleMismatches: number, topWrong: number, meWrong: number, example: unknown }
  cpuPercent: number
  // The load side over the same window: the socket harness and this process (autocannon).
  harnessCpuPercent: number
  loaderCpuPercent: number
  maxRss: number
  score?: ScoreCheck
  // Rank messages the burst made (service only; zero for the bare server).
  notifications: RankNotifications
}

export interface RankNotifications { messages: number, participants: number, maxPerParticipant: number, allowedPerParticipant: number, settled: boolean, drainMs: number }

// Waits (bounded) for the burst's score events to be handled, then counts the rank messages
// they made: coalescing allows each participant one per window.
async function rankNotifications (db: pg.Client, id: string, since: Date, burstSeconds: number, windowSeconds: number): Promise<RankNotifications> {
  const started = Date.now()
  let settled = false
  while (!settled && Date.now() - started < 120_000) {
    const { rows: [r] } = await db.query<{ pending: number }>(`SELECT
      (SELECT count(*) FROM domain_events WHERE relayed_at IS NULL)::int +
      (SELECT count(*) FROM pgboss.job WHERE name LIKE 'events.notifications%' AND state IN ('created', 'retry', 'active'))::int AS pending`)
    settled = r!.pending === 0
    if (!settled) await sleep(250)
  }
  const { rows: [c] } = await db.query<{ messages: number, participants: number, max: number | null }>(`SELECT sum(n)::int AS messages, count(*)::int AS participants, max(n)::int AS max
    FROM (SELECT user_id, count(*) AS n FROM notifications WHERE competition_id = $1 AND category = 'rank' AND created_at >= $2 GROUP BY user_id) t`, [id, since])
  return {
    messages: c!.messages ?? 0,
    participants: c!.participants,
    maxPerParticipant: c!.max ?? 0,
    allowedPerParticipant: Math.ceil(burstSeconds / windowSeconds),
    settled,
    drainMs: Date.now() - started
  }
}

export interface WsRun {
  connect: Connected & { rss: number }
  fanout: FanoutResult
  burst: BurstResult
}

async function connectAndMeasure (harness: Harness, pid: number, urls: string[], waitFirstFrame: boolean, views?: Array<{ userId: string, limit: number }>): Promise<Connected & { rss: number }> {
  const connected = await harness.call<Connected>({ cmd: 'connect', urls, concurrency: 64, waitFirstFrame, views, timeoutMs: 30_000 })
  await sleep(2000)
  return { ...connected, rss: rssOf(pid) }
}

async function fanoutRounds (harness: Harness, rounds: number, trigger: (round: number) => { url: string, method: string, headers: Record<string, string>, body: string }): Promise<FanoutResult> {
  const answers: FanoutAnswer[] = []
  for (let r = 0; r < rounds; r++) {
    answers.push(await harness.call<FanoutAnswer>({ cmd: 'fanout', trigger: trigger(r), timeoutMs: 10_000 }))
    await sleep(500)
  }
  const done = answers.filter((a) => a.firstMs !== null && a.lastMs !== null)
  return {
    rounds,
    first: median(done.map((a) => a.firstMs!)),
    last: median(done.map((a) => a.lastMs!)),
    spread: median(done.map((a) => a.lastMs! - a.firstMs!)),
    spreadMin: Math.min(...done.map((a) => a.lastMs! - a.firstMs!)),
    spreadMax: Math.max(...done.map((a) => a.lastMs! - a.firstMs!)),
    arrivals: Math.min(...answers.map((a) => a.arrivals)),
    sockets: answers[0]?.sockets ?? 0,
    frameBytes: answers[0]?.frameBytes ?? 0,
    frame: answers[0]?.frame ?? ''
  }
}

// The truth a client's view is checked against: the top 100 from Postgres in ranking order,
// and every participant's rank (1 + those with a higher score) and score.
async function postgresViews (db: pg.Client, id: string): Promise<{ top: Array<[string, number]>, ranks: Record<string, [number, number]> }> {
  const rows = (await db.query<{ user_id: string, score: string }>(
    'SELECT user_id, score FROM participants WHERE competition_id = $1 ORDER BY score DESC, reached_at, user_id', [id])).rows
  const ranks: Record<string, [number, number]> = {}
  let rank = 1
  rows.forEach((r, i) => {
    if (i > 0 && Number(r.score) !== Number(rows[i - 1]!.score)) rank = i + 1
    ranks[r.user_id] = [rank, Number(r.score)]
  })
  return { top: rows.slice(0, 100).map((r) => [r.user_id, Number(r.score)]), ranks }
}

// The service: sockets of distinct users on one competition (each showing the default top 50
// and its own rank), then one update at a time to the leader, which is in every client's view
// (fan-out), then 1,000 updates/s (burst) with every client's view checked against Postgres.
export async function serviceWs (harness: Harness, t: Target, stores: { databaseUrl: string, redisUrl: string, redisPrefix: string },
  opts: { sockets: number, participants: number, rounds: number, burstSeconds: number, burstRate: number, burstConnections: number, rankWindowSeconds: number }): Promise<WsRun> {
  const id = competitionId('live')
  const wsBase = t.base.replace('http', 'ws')
  const users = Array.from({ length: opts.sockets }, (_, i) => 1 + (i % opts.participants))
  const urls = users.map((n) => `${wsBase}/ws/leaderboard/${id}?token=${t.tokens.user(n)}`)
  const connect = await connectAndMeasure(harness, t.pid, urls, true, users.map((n) => ({ userId: userId(n), limit: 50 })))

  const db = new pg.Client({ connectionString: stores.databaseUrl })
  await db.connect()
  const leader = (await db.query<{ user_id: string }>('SELECT user_id FROM participants WHERE competition_id = $1 ORDER BY score DESC, reached_at, user_id LIMIT 1', [id])).rows[0]!.user_id
  const fanout = await fanoutRounds(harness, opts.rounds, (r) => ({
    url: `${t.base}/api/v1/leaderboard/update`,
    method: 'POST',
    headers: { authorization: `Bearer ${t.tokens.service}`, 'content-type': 'application/json', 'idempotency-key': `fanout-${Date.now()}-${r}` },
    body: JSON.stringify({ competitionId: id, userId: leader, operation: 'increment', value: 1 })
  }))

  await harness.call({ cmd: 'burst-start' })
  const burstStarted = new Date()
  const usage = sampleUsage(t.pid)
  const harnessUsage = sampleUsage(harness.pid)
  const loaderUsage = sampleUsage(process.pid)
  const { check: scoreCheck, load } = await scoreUpdates(t, stores, opts.participants, { competition: 'live', rate: opts.burstRate, seconds: opts.burstSeconds, noWarmup: true, connections: opts.burstConnections })
  // The last tick's frame reaches everyone.
  await sleep(1500)
  const used = usage.stop()
  const harnessUsed = harnessUsage.stop()
  const loaderUsed = loaderUsage.stop()
  const burst = await harness.call<BurstAnswer>({ cmd: 'burst-stop' })

  const redis = new Redis(stores.redisUrl)
  const finalSeq = Number(await redis.get(competitionKey(stores.redisPrefix, id, 'lb:seq')))
  redis.disconnect()
  const check = await harness.call<CheckAnswer>({ cmd: 'check', ...await postgresViews(db, id) })
  const notifications = await rankNotifications(db, id, burstStarted, opts.burstSeconds, opts.rankWindowSeconds)
  await db.end()
  const clients = Math.max(1, burst.sockets)
  await harness.call({ cmd: 'close' })
  return {
    connect,
    fanout,
    burst: {
      seconds: opts.burstSeconds,
      offeredPerSecond: opts.burstRate,
      updatesPerSecond: Math.round(load.requests / opts.burstSeconds),
      updateP99: load.p99,
      framesPerClientPerSecond: { avg: round2(burst.updates.total / clients / opts.burstSeconds), max: round2(burst.updates.max / opts.burstSeconds) },
      rankFramesPerClientPerSecond: round2(burst.ranks / clients / opts.burstSeconds),
      allFramesPerClientPerSecond: { avg: round2(burst.frames.total / clients / opts.burstSeconds), max: round2(burst.frames.max / opts.burstSeconds) },
      clientsWithUpdates: burst.withUpdates,
      avgFrameBytes: Math.round(burst.updateBytes / Math.max(1, burst.updates.total)),
      gaps: burst.outOfOrder,
      closed: burst.closed,
      converged: {
        clientsAtFinalSeq: check.converged,
        sockets: burst.sockets,
        finalSeq,
        sampleClients: check.checked,
        sampleMismatches: check.checked - check.converged,
        topWrong: check.topWrong,
        meWrong: check.meWrong,
        example: check.example
      },
      cpuPercent: used.cpuPercent,
      harnessCpuPercent: harnessUsed.cpuPercent,
      loaderCpuPercent: loaderUsed.cpuPercent,
      maxRss: used.maxRss,
      score: scoreCheck,
      notifications
    }
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100

// The bare `ws` server: the same socket count, the service's own update frame as the fan-out
// payload, and the service's frame rate and average frame size for the burst.
export async function bareWs (harness: Harness, server: { pid: number, port: number },
  opts: { sockets: number, rounds: number, frame: string, firstFrameBytes: number, burstSeconds: number, framesPerSecond: number, frameBytes: number }): Promise<WsRun> {
  const base = `http://127.0.0.1:${server.port}`
  const urls = Array.from({ length: opts.sockets }, () => `ws://127.0.0.1:${server.port}/?first=${opts.firstFrameBytes}`)
  const connect = await connectAndMeasure(harness, server.pid, urls, true)
  const fanout = await fanoutRounds(harness, opts.rounds, () => ({ url: `${base}/broadcast`, method: 'POST', headers: {}, body: opts.frame }))

  const payload = `{"type":"update","pad":"${'x'.repeat(Math.max(0, opts.frameBytes - 34))}"}`
  await harness.call({ cmd: 'burst-start' })
  const usage = sampleUsage(server.pid)
  const harnessUsage = sampleUsage(harness.pid)
  await fetch(`${base}/stream?rate=${opts.framesPerSecond}&seconds=${opts.burstSeconds}`, { method: 'POST', body: payload })
  await sleep(opts.burstSeconds * 1000 + 1500)
  const used = usage.stop()
  const harnessUsed = harnessUsage.stop()
  const burst = await harness.call<BurstAnswer>({ cmd: 'burst-stop' })
  await harness.call({ cmd: 'close' })
  const clients = Math.max(1, burst.sockets)
  return {
    connect,
    fanout,
    burst: {
      seconds: opts.burstSeconds,
      offeredPerSecond: 0,
      updatesPerSecond: 0,
      updateP99: 0,
      framesPerClientPerSecond: { avg: round2(burst.updates.total / clients / opts.burstSeconds), max: round2(burst.updates.max / opts.burstSeconds) },
      rankFramesPerClientPerSecond: 0,
      allFramesPerClientPerSecond: { avg: round2(burst.frames.total / clients / opts.burstSeconds), max: round2(burst.frames.max / opts.burstSeconds) },
      clientsWithUpdates: burst.withUpdates,
      avgFrameBytes: Math.round(burst.updateBytes / Math.max(1, burst.updates.total)),
      gaps: 0,
      closed: burst.closed,
      converged: { clientsAtFinalSeq: 0, sockets: burst.sockets, finalSeq: null, sampleClients: 0, sampleMismatches: 0, topWrong: 0, meWrong: 0, example: null },
      notifications: { messages: 0, participants: 0, maxPerParticipant: 0, allowedPerParticipant: 0, settled: true, drainMs: 0 },
      cpuPercent: used.cpuPercent,
      harnessCpuPercent: harnessUsed.cpuPercent,
      loaderCpuPercent: 0,
      maxRss: used.maxRss
    }
  }
}
