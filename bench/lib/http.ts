import autocannon from 'autocannon'
import { sampleUsage, type Usage } from './processes.ts'

// One autocannon run against a server process, with that process's memory and CPU sampled
// over the run. The same settings are used for the bare baseline and the service scenarios.
export interface LoadSettings {
  connections: number
  seconds: number
  warmupSeconds: number
}

export interface LoadResult {
  requests: number
  rps: number
  p50: number
  p99: number
  // Connection errors and timeouts plus non-2xx responses.
  errors: number
  non2xx: number
  // Service CPU time per answered request: steadier than req/s when the machine is shared.
  cpuUsPerRequest: number
  usage: Usage
}

export interface LoadOptions {
  url: string
  pid: number
  settings: LoadSettings
  // Requests or setupClient shaping per connection and per request (autocannon API).
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  requests?: autocannon.Request[]
  setupClient?: (client: autocannon.Client) => void
  overallRate?: number
  // Runs the measured phase for this long instead of settings.seconds.
  seconds?: number
  // Skips the warm-up run (when the caller counts everything the run causes).
  noWarmup?: boolean
}

async function run (opts: LoadOptions, seconds: number): Promise<autocannon.Result> {
  return await autocannon({
    url: opts.url,
    connections: opts.settings.connections,
    duration: seconds,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
    requests: opts.requests,
    setupClient: opts.setupClient,
    overallRate: opts.overallRate,
    timeout: 10
  } as autocannon.Options)
}

export async function load (opts: LoadOptions): Promise<LoadResult> {
  if (opts.settings.warmupSeconds > 0 && opts.noWarmup !== true) await run(opts, opts.settings.warmupSeconds)
  const sampler = sampleUsage(opts.pid)
  const r = await run(opts, opts.seconds ?? opts.settings.seconds)
  const usage = sampler.stop()
  const requests = r['2xx'] + r.non2xx
  return {
    requests,
    rps: Math.round(requests / r.duration),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
    non2xx: r.non2xx,
    cpuUsPerRequest: Math.round(1000 * usage.cpuMs / Math.max(1, requests)),
    usage
  }
}

// The service's leaderboard reads by source (memory, redis, postgres) from its /metrics.
export async function readsBySource (base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^leaderboard_reads_total\{source="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2])
  return out
}
