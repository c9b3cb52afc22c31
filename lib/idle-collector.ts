import { performance, type EventLoopUtilization } from 'node:perf_hooks'

// After a busy spell (start-up, a leaderboard rebuild, a traffic burst) V8 keeps what the
// process grew into: a young generation at its largest, freed pages pooled for reuse and the
// garbage of the old generation. Its own memory reducer only acts on this service after its
// watchdog of about 100 s, because it judges the idle process's allocation rate still high.
// So once the event loop has been quiet for a while after being busy, the process asks V8 for
// the full collection it runs when memory runs short, which also hands those pages back to the
// system: about 30 MB of idle RSS for one pause of 50-80 ms while nothing is waiting.

export interface IdleCollection {
  ms: number
  rssBefore: number
  rssAfter: number
}

export interface IdleCollectorOptions {
  // A full collection that returns memory to the system (see memoryReducingCollection).
  collect: () => void
  // How often the event loop's utilisation is sampled.
  sampleMs?: number
  // How long the loop must stay under busyUtilization to count as idle.
  quietMs?: number
  busyUtilization?: number
  // Never two collections closer than this, whatever the load pattern.
  minIntervalMs?: number
  onCollect?: (collection: IdleCollection) => void
}

type GcExtension = (options: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void

// V8's memory-reducing collection, available when Node runs with --expose-gc (npm start and the
// image do); null otherwise, and then nothing is scheduled.
export function memoryReducingCollection (): (() => void) | null {
  const gc = (globalThis as { gc?: GcExtension }).gc
  if (typeof gc !== 'function') return null
  return () => { gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) }
}

export function startIdleCollector (options: IdleCollectorOptions): { stop: () => void } {
  const { collect, onCollect } = options
  const sampleMs = options.sampleMs ?? 500
  const quietMs = options.quietMs ?? 2000
  const busyUtilization = options.busyUtilization ?? 0.05
  const minIntervalMs = options.minIntervalMs ?? 10_000

  // Start-up itself is the first busy spell.
  let busySinceCollection = true
  let quietSince = performance.now()
  let lastCollection = -Infinity
  let previous: EventLoopUtilization = performance.eventLoopUtilization()

  const timer = setInterval(function sampleEventLoop () {
    const now = performance.now()
    const current = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(current, previous)
    previous = current
    if (utilization >= busyUtilization) {
      busySinceCollection = true
      quietSince = now
      return
    }
    if (!busySinceCollection || now - quietSince < quietMs || now - lastCollection < minIntervalMs) return
    const rssBefore = process.memoryUsage.rss()
    collect()
    const finished = performance.now()
    lastCollection = finished
    busySinceCollection = false
    // The collection's own pause is not load.
    previous = performance.eventLoopUtilization()
    onCollect?.({ ms: finished - now, rssBefore, rssAfter: process.memoryUsage.rss() })
  }, sampleMs)
  timer.unref()
  return { stop: () => { clearInterval(timer) } }
}
