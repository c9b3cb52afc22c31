// npm run bench: the service against the framework's own limit on this machine. Seeds a
// database of its own, runs every scenario with the same load settings as the bare baselines
// measured in the same run, and writes bench/RESULTS.md. Loopback only; stops by itself.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from '../lib/migrate.ts'
import { projectRoot } from '../lib/project-root.ts'
import { startHarness, type Harness } from './lib/harness.ts'
import { readsBySource, type LoadResult } from './lib/http.ts'
import { createBaselineReadings, medianReading, type Bracket } from './lib/baseline.ts'
import { buildService, rssOf, startBaseline, startCommand, startService, type Child } from './lib/processes.ts'
import { int, mb, ms, ratio, writeReport, type Row } from './lib/report.ts'
import { bareHello, fitnessSync, leaderboardAround, leaderboardTop, profile, scoreUpdates, type Target } from './lib/scenarios-http.ts'
import { bareWs, serviceWs, type WsRun } from './lib/scenarios-ws.ts'
import { seed, seedPlan } from './lib/seed.ts'
import { createStores, type BenchStores } from './lib/stores.ts'
import { benchServiceEnv } from './lib/service-env.ts'
import { createTokens } from './lib/tokens.ts'
import { competitionId } from './lib/ids.ts'
import { summariseProfiles } from './lib/cpu-profile.ts'
import { parseCli } from '../lib/cli-args.ts'
import { eventsEndToEnd } from './lib/scenario-events.ts'
import { competitionEndNotifies, fcmServiceEnv } from './lib/scenario-notify.ts'
import { startFakeFcm } from '../test/fakes/fcm.ts'
import { compare, compareReport, COMPARABLE, type Comparable } from './lib/compare.ts'

const args = parseCli({
  command: 'npm run bench --',
  summary: 'Loads the service (production mode, a bench_* database and Redis prefix of its own, removed afterwards) and a bare Fastify ' +
    'and ws server on this machine, over loopback only, and writes the results. Stops by itself.',
  options: {
    scale: { type: 'string', default: '1', value: 'x', description: 'Seed size factor: 1 seeds 100,000 users and a 100,000-participant leaderboard' },
    seconds: { type: 'string', default: '10', value: 's', description: 'Seconds of load per HTTP scenario' },
    warmup: { type: 'string', default: '2', value: 's', description: 'Seconds of warm-up before each measurement' },
    connections: { type: 'string', default: '100', value: 'n', description: 'HTTP connections per scenario' },
    sockets: { type: 'string', default: '10000', value: 'n', description: 'WebSocket clients in the fan-out scenario' },
    rounds: { type: 'string', default: '9', value: 'n', description: 'Fan-out rounds (the median is reported)' },
    'burst-seconds': { type: 'string', default: '10', value: 's', description: 'Seconds of the score-update burst under live clients' },
    'burst-rate': { type: 'string', default: '1000', value: 'n', description: 'Score updates per second offered in the burst' },
    // Enough connections that the offered rate holds while each update waits on a busy loop.
    'burst-connections': { type: 'string', default: '400', value: 'n', description: 'HTTP connections sending the burst' },
    'tick-ms': { type: 'string', default: '100', value: 'ms', description: 'The service\'s live-feed tick (REALTIME_TICK_MS)' },
    out: { type: 'string', default: join(projectRoot, 'bench', 'RESULTS.md'), value: 'file', description: 'Where to write the results' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres', value: 'url', description: 'Postgres to create the bench database on' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379', value: 'url', description: 'Redis to use (under a key prefix of its own)' },
    only: { type: 'string', default: 'http,ws,notify', value: 'list', description: 'Scenarios, comma-separated: http, ws, notify, or single ones: top, around, profile, score, sync, events' },
    'cpu-prof': { type: 'string', default: '', value: 'dir', description: 'Write the service\'s CPU profiles there and summarise them in the results' },
    compare: { type: 'string', default: '', value: 'ref', description: 'Compare the working tree with this commit instead: both built, the chosen scenarios (--only: top, around, profile, score, sync) run on each alternately, and the ratios of CPU per request and req/s printed' },
    repeats: { type: 'string', default: '3', value: 'n', description: 'Rounds of a --compare run (each runs both sides)' },
    'wait-quiet': { type: 'string', default: '0', value: 'minutes', description: 'Wait up to this long for the machine to be quiet before starting' },
    'deadline-minutes': { type: 'string', default: '20', value: 'minutes', description: 'Stop, cleaning up, after this long whatever happens' }
  }
})

const num = (s: string | undefined) => Number(s)
const RANK_WINDOW_SECONDS = 900
const settings = { connections: num(args.connections), seconds: num(args.seconds), warmupSeconds: num(args.warmup) }
// --only http,ws,notify (everything), or single scenarios: top, around, profile, score, sync, events, ws, notify.
const HTTP = ['http', 'top', 'around', 'profile', 'score', 'sync', 'events']
const only = new Set(args.only!.split(','))
const selected = (name: string) => only.has('http') || only.has(name)
async function scenario<T> (name: string, work: () => Promise<T>): Promise<T | null> {
  return selected(name) ? await work() : null
}
const tickMs = num(args['tick-ms'])
const sleep = async (t: number) => await new Promise((resolve) => setTimeout(resolve, t))
const log = (...a: unknown[]) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)

const children = new Set<{ stop: () => Promise<void> }>()
let stores: BenchStores | null = null
let dataDir = ''

async function cleanup (): Promise<void> {
  for (const c of [...children]) await c.stop().catch(() => {})
  children.clear()
  if (stores) {
    await stores.drop().catch((err) => log('could not drop the bench stores:', err.message))
    stores = null
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
}

// Bounded in time whatever happens.
const watchdog = setTimeout(() => {
  log(`deadline of ${args['deadline-minutes']} minutes reached: stopping`)
  cleanup().finally(() => process.exit(2))
}, num(args['deadline-minutes']) * 60_000)
watchdog.unref()
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)) })

async function waitQuiet (minutes: number): Promise<void> {
  const until = Date.now() + minutes * 60_000
  while (loadavg()[0]! >= 1 && Date.now() < until) {
    log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}: waiting for a quiet machine`)
    await sleep(120_000)
  }
}

function track<T extends { stop: () => Promise<void> }> (c: T): T {
  children.add(c)
  const stop = c.stop
  c.stop = async () => { children.delete(c); await stop() }
  return c
}

async function startBenchService (env: Record<string, string>, tokens: ReturnType<typeof createTokens>, label: string): Promise<Child> {
  const profileDir = args['cpu-prof'] ? join(args['cpu-prof'], label) : undefined
  const service = track(await startService(env, { cpuProfileDir: profileDir }))
  const started = Date.now()
  const res = await fetch(`http://127.0.0.1:${service.port}/api/v1/admin/leaderboard/rebuild`, { method: 'POST', headers: { authorization: `Bearer ${tokens.service}` } })
  if (!res.ok) throw new Error(`rebuild failed: ${res.status} ${await res.text()}`)
  log(`service ${label} up on ${service.port}, projections rebuilt in ${Date.now() - started} ms`)
  return service
}

function logLoad (name: string, r: LoadResult): void {
  log(`${name}: ${int(r.rps)} req/s p50 ${r.p50} p99 ${r.p99} errors ${r.errors} cpu/req ${r.cpuUsPerRequest} us`)
}

// At least minRatio x the hello-world readings just before and after it, with no errors.
function meets (r: LoadResult, hello: Bracket, minRatio: number): boolean {
  return r.rps >= minRatio * hello.rps && r.errors === 0
}

// A scenario measured against the hello-world readings just before and after it (null for an
// absolute target).
function httpRow (scenario: string, r: LoadResult, hello: Bracket | null, target: string, ok: boolean, extra = ''): Row {
  return {
    scenario,
    result: `${int(r.rps)} req/s${extra}`,
    p50: ms(r.p50),
    p99: ms(r.p99),
    errors: int(r.errors),
    rss: mb(r.usage.maxRss),
    baseline: hello ? `${int(hello.rps)} req/s (before ${int(hello.before)}, after ${int(hello.after)})` : '',
    ratio: hello ? ratio(r.rps / hello.rps) : '',
    target,
    met: ok
  }
}

async function compareCommits (): Promise<void> {
  const scenarios = [...only].filter((s): s is Comparable => (COMPARABLE as readonly string[]).includes(s))
  if (scenarios.length === 0) throw new Error(`--compare needs --only with some of ${COMPARABLE.join(', ')}`)
  const rounds = num(args.repeats)
  const results = await compare({
    ref: args.compare!, scenarios, rounds, scale: num(args.scale), settings, postgres: args.postgres!, redis: args.redis!, log, track
  })
  console.log(`\n${compareReport(args.compare!, results, rounds)}`)
}

async function main (): Promise<void> {
  if (args.compare) { await compareCommits(); return }
  buildService()
  const waitMinutes = num(args['wait-quiet'])
  if (waitMinutes > 0) await waitQuiet(waitMinutes)
  const loadAtStart = loadavg()
  const started = Date.now()
  log(`load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`)

  stores = await createStores(args.postgres!, args.redis!)
  log(`database ${stores.name}, Redis prefix ${stores.redisPrefix}`)
  await migrate(stores.databaseUrl)
  const plan = seedPlan(num(args.scale))
  const seeded = await seed(stores.databaseUrl, plan)
  log(`seeded ${int(seeded.users)} users and ${int(seeded.participants)} participants in ${seeded.ms} ms`)
  const size = (name: string) => Math.min(plan.users, plan.competitions.find((c) => c.name === name)!.size)

  const secret = randomBytes(32).toString('hex')
  const tokens = createTokens(secret)
  dataDir = mkdtempSync(join(tmpdir(), 'hc-bench-'))
  const env = benchServiceEnv(stores, { secret, dataDir, tickMs, rankWindowSeconds: RANK_WINDOW_SECONDS })

  const rows: Row[] = []
  const sections: Array<{ heading: string, body: string }> = []
  const details: string[] = []
  let idleRss = 0

  if (HTTP.some((name) => only.has(name))) {
    // The hello-world server stays up, idle, while the service is measured, so it can be
    // measured again after every scenario (bench/lib/baseline.ts).
    const hello = track(await startBaseline('hello.ts'))
    const baseline = createBaselineReadings(async () => await bareHello({ base: `http://127.0.0.1:${hello.port}`, pid: hello.pid, settings, tokens }))
    logLoad('bare Fastify', await baseline.take())
    const measured = async <T>(name: string, work: () => Promise<T>) => selected(name) ? await baseline.between(work) : null

    const service = await startBenchService(env, tokens, 'http')
    await sleep(3000)
    idleRss = rssOf(service.pid)
    log(`idle RSS ${mb(idleRss)}`)
    const t: Target = { base: `http://127.0.0.1:${service.port}`, pid: service.pid, settings, tokens }
    const top = await measured('top', async () => await leaderboardTop(t, size('reads')))
    if (top) logLoad('top 50', top.result)
    const around = await measured('around', async () => await leaderboardAround(t, size('reads')))
    if (around) logLoad('around=me', around.result)
    const sample = await fetch(`${t.base}/api/v1/leaderboard/${competitionId('reads')}?limit=50`, { headers: { authorization: `Bearer ${tokens.user(1)}` } })
    const sampleBody = await sample.text()
    // Headers Fastify sets itself are left out; the rest are sent by the same-bytes baseline.
    const sampleHeaders = Object.fromEntries([...sample.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(k)))
    const headerBytes = [...sample.headers].reduce((n, [k, v]) => n + k.length + v.length + 4, 0)
    const sameBytesFile = join(dataDir, 'top50-response.json')
    writeFileSync(sameBytesFile, JSON.stringify({ body: sampleBody, headers: sampleHeaders }))
    log(`GET top 50 response: ${Buffer.byteLength(sampleBody)} B body, about ${headerBytes} B of headers`)
    const readSources = await readsBySource(t.base)
    details.push(`- Leaderboard reads by source over the read scenarios (warm-ups included): ${Object.entries(readSources).map(([k, v]) => `${k} ${int(v)}`).join(', ')}.`)
    log('leaderboard reads by source', readSources)
    const prof = await measured('profile', async () => await profile(t, plan.users))
    if (prof) logLoad('profile', prof.result)
    const scores = await measured('score', async () => await scoreUpdates(t, stores!, size('writes')))
    if (scores) log(`score updates: ${int(scores.result.load.rps)} req/s p99 ${scores.result.load.p99}`, scores.result.check)
    // An absolute target: no baseline reading around it.
    const sync = await scenario('sync', async () => await fitnessSync(t, stores!.databaseUrl, Math.min(settings.connections, size('steps'))))
    if (sync) log(`fitness sync: ${int(sync.check.samplesPerSecond)} samples/s p99 ${sync.load.p99}`, sync.check)
    const events = await scenario('events', async () => await eventsEndToEnd(t, { events: Math.min(2000, plan.users), concurrency: 20 }))
    if (events) log('events end to end', events)
    const afterRss = rssOf(service.pid)
    await service.stop()

    const bytes = track(await startBaseline('same-bytes.ts', [sameBytesFile]))
    const sameBytes = await baseline.between(async () => await bareHello({ base: `http://127.0.0.1:${bytes.port}`, pid: bytes.pid, settings, tokens }))
    await bytes.stop()
    await hello.stop()
    logLoad('bare Fastify sending the top 50 response\'s bytes', sameBytes.result)

    const readings = baseline.readings
    const helloMean = readings.reduce((n, r) => n + r.rps, 0) / readings.length
    const helloTypical = medianReading(readings)
    log(`bare Fastify readings: ${readings.map((r) => int(r.rps)).join(', ')} req/s`)
    rows.push({
      scenario: 'bare Fastify hello-world (baseline)',
      result: `${int(helloMean)} req/s (mean of ${readings.length})`,
      p50: ms(helloTypical.p50),
      p99: ms(helloTypical.p99),
      errors: int(readings.reduce((n, r) => n + r.errors, 0)),
      rss: mb(helloTypical.usage.maxRss),
      baseline: `readings in order: ${readings.map((r) => int(r.rps)).join(', ')}`,
      ratio: '1.00 x',
      target: '',
      met: null
    })
    rows.push({ ...httpRow('bare Fastify sending the same bytes as GET top 50 (reference, no work)', sameBytes.result, sameBytes.bracket, '', true), met: null, target: 'the ceiling for GET top 50 on this machine' })
    if (top) rows.push(httpRow(`GET leaderboard top 50 (${int(size('reads'))} participants)`, top.result, top.bracket, '>= 0.5 x, p99 <= 10 ms', meets(top.result, top.bracket, 0.5) && top.result.p99 <= 10))
    if (around) rows.push(httpRow('GET leaderboard around=me', around.result, around.bracket, '>= 0.35 x', meets(around.result, around.bracket, 0.35)))
    if (prof) rows.push(httpRow('GET profile', prof.result, prof.bracket, '>= 0.35 x', meets(prof.result, prof.bracket, 0.35)))
    if (scores) {
      const c = scores.result.check
      const scoresOk = c.lost === 0 && c.doubled === 0 && c.redisMismatches === 0
      rows.push(httpRow('POST score update (durable, Idempotency-Key)', scores.result.load, scores.bracket, '>= 0.1 x, 0 lost/doubled', meets(scores.result.load, scores.bracket, 0.1) && scoresOk,
        `; ${c.lost} lost, ${c.doubled} doubled`))
      details.push(`- Score updates: ${int(c.sent)} requests of which ${int(c.retries)} retries of an earlier key; ${int(c.applied)} keys applied, ` +
        `${int(c.duplicatesAnswered)} retries answered duplicate; Postgres holds ${int(c.events)} events for this run; lost ${c.lost}, doubled ${c.doubled}, ` +
        `not answered before the run ended ${c.unknown}; Redis projection differing from Postgres: ${c.redisMismatches} participants.`)
    }
    if (sync) {
      rows.push({
        ...httpRow('POST fitness sync, 100-sample batches', sync.load, null, '>= 20,000 samples/s', sync.check.samplesPerSecond >= 20_000 && sync.load.errors === 0),
        result: `${int(sync.check.samplesPerSecond)} samples/s (${int(sync.load.rps)} req/s)`,
        ratio: 'n/a (absolute target)'
      })
      details.push(`- Fitness sync: ${int(sync.check.batches)} batches answered 200 (warm-up included), ${int(sync.check.samplesAccepted)} samples reported inserted; ` +
        `${int(sync.check.samplesStored)} rows in fitness_samples (requests still in flight when a run ended were completed by the service).`)
    }
    if (events) {
      rows.push({
        scenario: 'Events end to end: join -> outbox -> queue -> signed webhook delivery',
        result: `${int(events.eventsPerSecond)} events/s, ${int(events.delivered)} of ${int(events.events)} delivered`,
        p50: ms(events.latencyMs.p50),
        p99: ms(events.latencyMs.p99),
        errors: int(events.events - events.delivered + events.invalidSignatures),
        rss: '',
        baseline: '',
        ratio: 'n/a (absolute)',
        target: 'every event delivered once, signed',
        met: events.delivered === events.events && events.invalidSignatures === 0
      })
      details.push(`- Events end to end: ${int(events.events)} joins by 20 concurrent callers, each delivered to a local receiver that verifies every signature ` +
        `(${events.invalidSignatures} invalid); from the join's answer to the delivery p50 ${events.latencyMs.p50} ms, p95 ${events.latencyMs.p95} ms, p99 ${events.latencyMs.p99} ms, ` +
        `max ${events.latencyMs.max} ms; service CPU ${events.serviceCpuMsPerEvent} ms per event (the join included).`)
    }
    const perRequest = ([['bare Fastify (median reading)', helloTypical], ['bare Fastify sending the top 50 bytes', sameBytes.result], ['top 50', top?.result], ['around=me', around?.result],
      ['profile', prof?.result], ['score update', scores?.result.load], ['sync batch', sync?.load]] as const)
      .filter(([, r]) => r).map(([name, r]) => `${name} ${int(r!.cpuUsPerRequest)} us`)
    details.push(`- Server CPU time per request (less sensitive to other load on the machine than req/s): ${perRequest.join(', ')}.`)
    details.push(`- Service RSS after the HTTP scenarios: ${mb(afterRss)}.`)
  }

  if (only.has('ws')) {
    const sockets = num(args.sockets)
    const service = await startBenchService(env, tokens, 'ws')
    await sleep(3000)
    const wsIdleRss = rssOf(service.pid)
    if (idleRss === 0) idleRss = wsIdleRss
    const harness: Harness = track(startHarness())
    const t: Target = { base: `http://127.0.0.1:${service.port}`, pid: service.pid, settings, tokens }
    const live = await serviceWs(harness, t, stores, {
      sockets,
      participants: size('live'),
      rounds: num(args.rounds),
      burstSeconds: num(args['burst-seconds']),
      burstRate: num(args['burst-rate']),
      burstConnections: num(args['burst-connections']),
      rankWindowSeconds: RANK_WINDOW_SECONDS
    })
    log('service ws', JSON.stringify({ ...live, fanout: { ...live.fanout, frame: undefined }, burst: { ...live.burst, score: undefined } }))
    await service.stop()

    const bare = track(await startBaseline('ws-broadcast.ts'))
    const baseline = await bareWs(harness, bare, {
      sockets,
      rounds: num(args.rounds),
      frame: live.fanout.frame,
      firstFrameBytes: live.connect.firstFrameBytes,
      burstSeconds: num(args['burst-seconds']),
      framesPerSecond: Math.max(1, Math.round(live.burst.framesPerClientPerSecond.avg)),
      frameBytes: Math.max(64, live.burst.avgFrameBytes)
    })
    log('bare ws', JSON.stringify({ ...baseline, fanout: { ...baseline.fanout, frame: undefined } }))
    await bare.stop()
    await harness.stop()
    wsRows(rows, details, live, baseline, sockets)
    const blank = { p50: '', p99: '', errors: '', rss: '' }
    rows.push({
      scenario: 'memory: idle (production start, 3 s after the 100,000-participant rebuild)',
      result: `idle ${mb(idleRss)}`,
      ...blank,
      baseline: '',
      ratio: 'n/a (absolute target)',
      target: 'idle <= 90 MB',
      met: idleRss <= 90 * 1048576
    }, {
      scenario: `memory: ${int(sockets)} live-feed sockets`,
      result: `${mb(live.connect.rss)} at ${int(live.connect.opened)} sockets`,
      ...blank,
      baseline: `bare ws ${mb(baseline.connect.rss)} at ${int(baseline.connect.opened)}`,
      ratio: ratio(live.connect.rss / baseline.connect.rss),
      target: '<= 1.3 x bare ws',
      met: live.connect.rss <= 1.3 * baseline.connect.rss
    })
  }

  if (only.has('notify')) {
    // Push goes to a local FCM fake in this process; the service's FCM sender talks to it.
    const fcm = await startFakeFcm()
    children.add({ stop: fcm.close })
    const service = await startBenchService({ ...env, ...fcmServiceEnv(fcm) }, tokens, 'notify')
    await sleep(2000)
    const t: Target = { base: `http://127.0.0.1:${service.port}`, pid: service.pid, settings, tokens }
    const n = await competitionEndNotifies(t, fcm, stores.databaseUrl, { participants: plan.users, users: plan.users })
    log('competition end notifies', { ...n, apiBefore: undefined, apiDuring: undefined })
    logLoad('profile before the drain', n.apiBefore)
    logLoad('profile during the drain', n.apiDuring)
    await service.stop()
    await fcm.close()
    rows.push({
      scenario: `results of a ${int(n.participants)}-participant competition pushed (FCM fake), profile reads during the drain`,
      result: `${int(n.pushesPerSecond)} pushes/s, ${int(n.delivered)} delivered in ${(n.drainMs / 1000).toFixed(1)} s; reads ${int(n.apiDuring.rps)} req/s`,
      p50: ms(n.apiDuring.p50),
      p99: ms(n.apiDuring.p99),
      errors: int(n.apiDuring.errors + n.participants - n.delivered + n.duplicates),
      rss: mb(n.apiDuring.usage.maxRss),
      baseline: `reads before: ${int(n.apiBefore.rps)} req/s, p99 ${ms(n.apiBefore.p99)}`,
      ratio: ratio(n.apiDuring.rps / Math.max(1, n.apiBefore.rps)),
      target: 'everyone once; reads >= 0.5 x',
      met: n.delivered === n.participants && n.duplicates === 0 && n.apiDuring.rps >= 0.5 * n.apiBefore.rps
    })
    details.push(`- Competition results pushed: a competition of ${int(n.participants)} participants, each with one phone, made final; ` +
      `the final-results push reached ${int(n.delivered)} phones (${n.duplicates} twice) ${(n.drainMs / 1000).toFixed(1)} s after the event was written, ` +
      `in ${int(n.fcmRequests)} FCM requests, send jobs of up to 500 pushes, NOTIFY_SEND_CONCURRENCY=2, NOTIFY_SEND_RATE=250 a second; ` +
      `service CPU ${int(n.serviceCpuMsPerThousand)} ms per 1,000 pushes (the API load included). Profile reads (${settings.connections} connections, ` +
      `${settings.seconds} s) before: ${int(n.apiBefore.rps)} req/s p99 ${ms(n.apiBefore.p99)}; over the drain's first 30 s: ${int(n.apiDuring.rps)} req/s p99 ${ms(n.apiDuring.p99)}.`)
  }

  const loadAtEnd = loadavg()
  const argv = process.argv.slice(2).join(' ')
  const context = [
    `Produced by \`npm run bench${argv ? ` -- ${argv}` : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round((Date.now() - started) / 1000)} s. ` +
      `Machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, Node ${process.version}; the service, its load generators, Postgres and Redis share these cores.`,
    `Load average (1/5/15 min) at start ${loadAtStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${loadAtEnd.map((x) => x.toFixed(2)).join(' / ')}` +
      (loadAtStart[0]! >= 1 ? ' — **the machine was busy at the start: absolute numbers and ratios are less reliable**.' : ' (quiet).'),
    `Load: autocannon, ${settings.connections} connections, pipelining 1, ${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured per scenario; ` +
      'the bare Fastify baseline runs with the same settings before the first HTTP scenario and again after each one, and each scenario is compared with the mean of the readings just before and after it. ' +
      `WebSockets: a second process (bench/ws-harness.ts) holds the sockets. Data: ${int(plan.users)} users, competitions of ` +
      `${int(Math.min(...plan.competitions.map((c) => c.size)))} to ${int(Math.max(...plan.competitions.map((c) => Math.min(c.size, plan.users))))} participants ` +
      `(${int(seeded.participants)} participations), seeded in ${(seeded.ms / 1000).toFixed(1)} s.`,
    `Service: \`${startCommand()}\` (as \`npm start\`), production settings against the local Postgres and Redis with defaults except ` +
      `LOG_LEVEL=warn, REALTIME_TICK_MS=${tickMs}, and RATE_LIMIT_MAX raised so a few hundred users can generate the load (every request is still counted in Redis).`
  ]
  sections.push({ heading: 'Details', body: details.join('\n') })
  if (args['cpu-prof']) sections.push({ heading: 'CPU profile of this run (self time)', body: summariseProfiles(args['cpu-prof']) })
  writeReport(args.out!, { title: 'Benchmark results', context, rows, sections, notesFile: join(projectRoot, 'bench', 'NOTES.md') })
  log(`wrote ${args.out}`)
  log(readFileSync(args.out!, 'utf8'))
}

function wsRows (rows: Row[], details: string[], live: WsRun, bare: WsRun, sockets: number): void {
  const f = live.fanout
  const b = bare.fanout
  rows.push({
    scenario: `WS fan-out, ${int(sockets)} subscribers, one update`,
    result: `broadcast ${ms(f.spread)} (first to last arrival, median; ${ms(f.spreadMin)}-${ms(f.spreadMax)} over ${f.rounds} rounds); update to last arrival ${ms(f.last)}`,
    p50: '',
    p99: '',
    errors: `${int(f.sockets - f.arrivals)} missed`,
    rss: mb(live.connect.rss),
    baseline: `bare ws ${ms(b.spread)} (${ms(b.spreadMin)}-${ms(b.spreadMax)}); trigger to last ${ms(b.last)}`,
    ratio: ratio(f.spread / Math.max(0.01, b.spread)),
    target: '<= 1.15 x bare ws',
    met: f.spread <= 1.15 * b.spread && f.arrivals === f.sockets
  })
  const u = live.burst
  const perTick = 1000 / tickMs
  const converged = u.converged.clientsAtFinalSeq === u.converged.sockets && u.converged.sampleMismatches === 0 && u.gaps === 0
  rows.push({
    scenario: `WS burst, ${int(u.offeredPerSecond)} updates/s offered (${int(u.updatesPerSecond)}/s answered), ${int(sockets)} subscribers`,
    result: `${u.framesPerClientPerSecond.avg} update frames/client/s (max ${u.framesPerClientPerSecond.max}; tick ${tickMs} ms = ${perTick}/s), ` +
      `${u.rankFramesPerClientPerSecond} rank frames/client/s, all frames ${u.allFramesPerClientPerSecond.avg}/client/s (max ${u.allFramesPerClientPerSecond.max}); ` +
      `views equal to Postgres at the end: ${int(u.converged.clientsAtFinalSeq)} of ${int(u.converged.sockets)}; server CPU ${u.cpuPercent} %`,
    p50: '',
    p99: '',
    errors: `${Object.values(u.closed).reduce((a, b) => a + b, 0)} closed, ${u.gaps} out of order`,
    rss: mb(u.maxRss),
    baseline: `bare ws ${bare.burst.framesPerClientPerSecond.avg} frames/client/s of ${int(bare.burst.avgFrameBytes)} B, CPU ${bare.burst.cpuPercent} %`,
    ratio: `CPU ${ratio(u.cpuPercent / Math.max(1, bare.burst.cpuPercent))}`,
    target: '<= 1 frame per tick per client, all converge (at the offered rate)',
    met: u.framesPerClientPerSecond.max <= perTick * 1.05 && converged && u.updatesPerSecond >= 0.95 * u.offeredPerSecond
  })
  details.push(`- WS connect: service ${int(live.connect.opened)} sockets in ${int(live.connect.ms)} ms (token check, competition check, snapshot of ` +
    `${int(live.connect.firstFrameBytes)} B each), failures ${JSON.stringify(live.connect.failed)}; bare ws ${int(bare.connect.opened)} in ${int(bare.connect.ms)} ms ` +
    '(a first frame of the same size each, so both hold the same protocol data). RSS is read 2 s after the last socket opened.')
  details.push(`- WS fan-out (median of ${f.rounds} rounds; times from the trigger request leaving the harness): service first arrival ${ms(f.first)}, ` +
    `last ${ms(f.last)}, frame ${f.frameBytes} B; bare ws first ${ms(b.first)}, last ${ms(b.last)}. The service's time includes the Postgres commit, ` +
    `the Redis script and the coalescing tick (REALTIME_TICK_MS=${tickMs}) before the broadcast starts; the ratio compares the broadcasts themselves.`)
  details.push(`- WS burst: ${int(u.offeredPerSecond)} score updates/s offered from ${args['burst-connections']} connections for ${u.seconds} s, ` +
    `${int(u.updatesPerSecond)}/s answered (p99 ${ms(u.updateP99)}); update frames of ${int(u.avgFrameBytes)} B on average; ` +
    `each client keeps its view (its top 50 and own rank and score) from the frames it is sent; after the burst ${int(u.converged.sampleClients)} views were ` +
    `checked against Postgres: ${int(u.converged.clientsAtFinalSeq)} equal (${u.converged.topWrong} with a wrong top, ${u.converged.meWrong} with a wrong own entry); ` +
    `${int(u.clientsWithUpdates)} clients received update frames; frames out of order or two in one tick: ${u.gaps}; ` +
    `sockets closed by the server: ${JSON.stringify(u.closed)}. CPU over the burst: service ${u.cpuPercent} %, socket harness ${u.harnessCpuPercent} %, ` +
    `autocannon process ${u.loaderCpuPercent} % (bare ws run: server ${bare.burst.cpuPercent} %, harness ${bare.burst.harnessCpuPercent} %; 100 % = one core of two).` +
    (u.score ? ` Burst updates: ${u.score.lost} lost, ${u.score.doubled} doubled, ${u.score.redisMismatches} Redis/Postgres differences.` : ''))
  const n = u.notifications
  details.push(`- Rank notifications from the burst (overtaken, entered the top; coalesced per participant and competition over ${RANK_WINDOW_SECONDS} s): ` +
    `${int(n.messages)} messages to ${int(n.participants)} participants, at most ${n.maxPerParticipant} to one (allowed: ${n.allowedPerParticipant}); ` +
    `${n.settled ? `all events handled ${ms(n.drainMs)} after the burst` : `events still being handled ${ms(n.drainMs)} after the burst`}.`)
}

try {
  await main()
} catch (err) {
  log('benchmark failed:', err)
  process.exitCode = 1
} finally {
  await cleanup()
  clearTimeout(watchdog)
}
