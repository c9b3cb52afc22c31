// npm run bench:scaling: how the service's costs grow with the size of what it serves, one
// curve at a time, each in a database and Redis prefix of its own (removed afterwards), and
// writes bench/SCALING.md with the tables, the plots under bench/scaling/ and the verdicts.
// Loopback only; stops by itself, at the latest at the deadline.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseCli } from '../lib/cli-args.ts'
import { projectRoot } from '../lib/project-root.ts'
import { buildService, startCommand } from './lib/processes.ts'
import { createScalingContext, type ScalingContext } from './lib/scaling-context.ts'
import { leaderboardCurve } from './lib/scaling-leaderboard.ts'
import { syncCurve } from './lib/scaling-sync.ts'
import { endingsCurve } from './lib/scaling-endings.ts'
import { notifyCurve } from './lib/scaling-notify.ts'
import { liveCurve } from './lib/scaling-live.ts'
import { writeScaling, type Curve, type NotMeasured } from './lib/scaling-report.ts'
import { createTokens } from './lib/tokens.ts'

const args = parseCli({
  command: 'npm run bench:scaling --',
  summary: 'Measures the scaling curves (leaderboard size, live feed sockets over two instances, simultaneous competition endings, fitness sync ' +
    'against history, a large competition\'s notifications) against the local Postgres and Redis, over loopback only, and writes the report and its plots. Stops by itself.',
  options: {
    only: { type: 'string', default: 'leaderboard,sync,endings,notify,live', value: 'list', description: 'Curves, comma-separated, in this order: leaderboard, sync, endings, notify, live (none: only write the report again)' },
    sizes: { type: 'string', default: '1000,10000,100000,1000000', value: 'list', description: 'Leaderboard sizes (participants)' },
    rebuilds: { type: 'string', default: '3', value: 'n', description: 'Times each leaderboard size\'s projection is rebuilt into an empty projection and again over the equal one (the report takes the median)' },
    rounds: { type: 'string', default: '3', value: 'n', description: 'Rounds of leaderboard reads and updates over every size (the verdicts take their medians)' },
    seconds: { type: 'string', default: '5', value: 's', description: 'Seconds of load per measurement' },
    warmup: { type: 'string', default: '2', value: 's', description: 'Seconds of warm-up before each measurement' },
    connections: { type: 'string', default: '50', value: 'n', description: 'HTTP connections per measurement' },
    'sync-histories': { type: 'string', default: '0,52560,525600', value: 'list', description: 'Minute-level samples already stored for each syncing user (525,600 = a year)' },
    'sync-batches': { type: 'string', default: '100', value: 'n', description: '100-sample batches synced per user' },
    competitions: { type: 'string', default: '10000', value: 'n', description: 'Active competitions in the endings curve' },
    ending: { type: 'string', default: '5000', value: 'n', description: 'Of those, how many end at the same instant' },
    'ending-lead': { type: 'string', default: '45', value: 's', description: 'Seconds between seeding the endings curve and its end instant (the service starts in between)' },
    'notify-participants': { type: 'string', default: '10000,100000', value: 'list', description: 'Sizes of the competition whose results are pushed (participants)' },
    sockets: { type: 'string', default: '5000,10000,20000,40000', value: 'list', description: 'Live-feed sockets, split across two instances' },
    out: { type: 'string', default: join(projectRoot, 'bench', 'SCALING.md'), value: 'file', description: 'Where to write the report (plots go to scaling/ beside it)' },
    'cpu-prof': { type: 'string', default: '', value: 'dir', description: 'Keep the services\' CPU profiles there (by default they go to a temporary folder, removed afterwards)' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres', value: 'url', description: 'Postgres to create the bench databases on' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379', value: 'url', description: 'Redis to use (under key prefixes of its own)' },
    'deadline-minutes': { type: 'string', default: '60', value: 'minutes', description: 'Stop, cleaning up, after this long whatever happens' }
  }
})

const CURVES: Record<string, string> = {
  leaderboard: 'Leaderboard size',
  sync: 'Fitness sync against stored history',
  endings: 'Competitions ending at the same instant',
  notify: 'Notifications of a large competition ending',
  live: 'Live feed over two instances'
}
const num = (s: string | undefined) => Number(s)
const list = (s: string | undefined) => (s ?? '').split(',').filter((x) => x !== '')
const log = (...a: unknown[]) => console.log(`[scaling ${new Date().toISOString().slice(11, 19)}]`, ...a)

const started = Date.now()
const deadline = started + num(args['deadline-minutes']) * 60_000
const dataDir = mkdtempSync(join(tmpdir(), 'hc-scaling-'))
const cpuProfDir = args['cpu-prof'] || join(dataDir, 'profiles')
const plotDir = join(dirname(args.out!), 'scaling')
mkdirSync(plotDir, { recursive: true })
const secret = randomBytes(32).toString('hex')
const ctx = createScalingContext({
  log,
  postgres: args.postgres!,
  redis: args.redis!,
  secret,
  dataDir,
  tokens: createTokens(secret),
  settings: { connections: num(args.connections), seconds: num(args.seconds), warmupSeconds: num(args.warmup) },
  cpuProfDir,
  deadline
})

async function cleanup (): Promise<void> {
  await ctx.cleanup()
  rmSync(dataDir, { recursive: true, force: true })
}

const watchdog = setTimeout(() => {
  log(`deadline of ${args['deadline-minutes']} minutes reached: stopping`)
  cleanup().finally(() => process.exit(2))
}, deadline - Date.now())
watchdog.unref()
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)) })

type Runner = (ctx: ScalingContext) => Promise<Curve>
const runners: Record<string, Runner> = {
  leaderboard: async (c) => await leaderboardCurve(c, { sizes: list(args.sizes).map(Number), rebuilds: num(args.rebuilds), rounds: num(args.rounds), plotDir }),
  sync: async (c) => await syncCurve(c, { histories: list(args['sync-histories']).map(Number), batches: num(args['sync-batches']), plotDir }),
  endings: async (c) => await endingsCurve(c, { competitions: num(args.competitions), ending: num(args.ending), leadSeconds: num(args['ending-lead']), plotDir }),
  notify: async (c) => await notifyCurve(c, { sizes: list(args['notify-participants']).map(Number), plotDir }),
  live: async (c) => await liveCurve(c, { sizes: list(args.sockets).map(Number), plotDir })
}

const argv = process.argv.slice(2).join(' ')
const context = [
  `Produced by \`npm run bench:scaling\` on ${cpus().length} x ${cpus()[0]?.model.trim()}, Node ${process.version}; the service, its load generators, Postgres and Redis share these cores, ` +
    'and other work may run on them (each curve gives its load average). Each curve is measured in a database and Redis prefix of its own, removed afterwards, and kept ' +
    'in `bench/scaling/<curve>.json`, so a run of some curves (`--only`) leaves the others as last measured; the plots are drawn by the bench with Vega-Lite.',
  `Services run as \`npm start\` runs them (\`${startCommand()}\`) with LOG_LEVEL=warn and RATE_LIMIT_MAX raised so a few users can generate the load, ` +
    'each under `node --cpu-prof` (the same overhead at every size), so that a curve that misses its target comes with the profile that shows why.'
]

// Every curve measured so far, this run's and earlier runs' alike, in the order of CURVES.
function report (missing: NotMeasured[]): void {
  const curves = Object.keys(CURVES).flatMap((key) => {
    const file = join(plotDir, `${key}.json`)
    return existsSync(file) ? [JSON.parse(readFileSync(file, 'utf8')) as Curve] : []
  })
  const measured = new Set(curves.map((c) => c.key))
  writeScaling(args.out!, context, curves, missing.filter((m) => !measured.has(m.key)), join(projectRoot, 'bench', 'SCALING-NOTES.md'))
}

async function main (): Promise<void> {
  const missing: NotMeasured[] = []
  const chosen = new Set(list(args.only))
  // `--only none` only writes the report again from the curves kept.
  if (Object.keys(CURVES).some((key) => chosen.has(key))) buildService()
  for (const key of Object.keys(CURVES)) {
    if (!chosen.has(key)) { missing.push({ key, title: CURVES[key]!, reason: 'not measured yet' }); continue }
    const run = runners[key]
    if (run === undefined) { missing.push({ key, title: CURVES[key]!, reason: 'not measured yet: the bench has no runner for it' }); continue }
    if (ctx.timeLeftMs() < 60_000) { missing.push({ key, title: CURVES[key]!, reason: 'the run\'s deadline came first' }); continue }
    log(`curve ${key}`)
    const curveStarted = Date.now()
    const loadAtStart = loadavg()
    try {
      const curve = await run(ctx)
      curve.measured = `Measured on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round((Date.now() - curveStarted) / 1000)} s by ` +
        `\`npm run bench:scaling${argv ? ` -- ${argv}` : ''}\`; load average (1/5/15 min) at its start ${loadAtStart.map((x) => x.toFixed(2)).join(' / ')}, ` +
        `at its end ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (2 cores: above 2 the curve shared the machine with other work).`
      writeFileSync(join(plotDir, `${key}.json`), JSON.stringify(curve, null, 2) + '\n')
    } catch (err) {
      log(`curve ${key} failed:`, err)
      missing.push({ key, title: CURVES[key]!, reason: `the run failed: ${(err as Error).message.split('\n')[0]}` })
    }
    // Written after every curve, so a run stopped by its deadline keeps what it measured.
    report(missing)
  }
  // Again at the end, so `--only none` writes it too.
  report(missing)
  log(`wrote ${args.out}`)
}

try {
  await main()
} catch (err) {
  log('scaling bench failed:', err)
  process.exitCode = 1
} finally {
  await cleanup()
  clearTimeout(watchdog)
}
