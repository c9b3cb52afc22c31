import type { Cluster, Redis } from 'ioredis'

// Rate-limit counters (plugins/rate-limit.ts) that live in Redis, shared by every instance, but
// that do not make every request wait for Redis. While a caller is far from their limit,
// their requests are counted here and added to the shared counter in one batch every
// SYNC_MS; near the limit (and on a caller's first request in a window) every request is
// counted in Redis before it is answered, so the limit holds exactly across instances where
// it decides anything. What another instance has counted but not yet added is at most
// SYNC_MS of that caller's traffic, and the margin below keeps such requests far from the limit.

const SYNC_MS = 20
// Counters whose window has ended are dropped this often, by a walk over all of them (walking
// them every SYNC_MS cost more than the counting itself with 10,000 callers connected).
const SWEEP_MS = 1000
// Requests counted locally only while more than this much of the budget is left.
const exactWithin = (max: number): number => Math.max(max / 2, 100)

// Adds to a window's counter, starting the window (its TTL) on the first count.
const ADD_LUA = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) ttl = tonumber(ARGV[2]) end
return { total, ttl }
`

type RedisClient = Redis | Cluster
// The caller's count in the current window, this request included, and the window's time left.
export interface RateCount { current: number, ttl: number }
type Callback = (err: Error | null, result?: RateCount) => void

interface Counter {
  // The shared total as Redis last reported it (this instance's synced counts included).
  shared: number
  // Counted here, not yet sent to Redis; and sent, not yet answered.
  pending: number
  inFlight: number
  windowEnds: number
  windowMs: number
  syncing: Promise<boolean> | null
}

export interface SharedRateLimitStore {
  // Counts one request of the caller `key` against `max` per `windowMs`. Answers at once (in the
  // same tick) while the caller is far from the limit; an error means Redis could not count it.
  incr: (key: string, windowMs: number, max: number, cb: Callback) => void
  // Sends what is still counted locally (on close).
  flush: () => Promise<void>
  close: () => Promise<void>
}

export function createSharedRateLimitStore (redis: RedisClient, prefix: string): SharedRateLimitStore {
  const counters = new Map<string, Counter>()
  // Keys with counts not yet sent to Redis: the only counters a flush needs to look at.
  const dirty = new Set<string>()
  let timer: NodeJS.Timeout | null = null
  let closed = false
  const command = 'sharedRateLimitAdd'
  if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: 1, lua: ADD_LUA })
  const addToShared = (redis as unknown as Record<typeof command, (key: string, count: number, windowMs: number) => Promise<[number, number]>>)[command].bind(redis)

  function current (c: Counter): number {
    return c.shared + c.inFlight + c.pending
  }

  async function send (key: string, c: Counter): Promise<boolean> {
    const count = c.pending
    c.pending = 0
    c.inFlight = count
    try {
      const [total, ttl] = await addToShared(prefix + key, count, c.windowMs)
      c.shared = total
      c.windowEnds = Date.now() + ttl
      return true
    } catch {
      c.pending += count
      return false
    } finally {
      c.inFlight = 0
    }
  }

  // Sends the counter's local counts, one batch at a time per counter (so Redis's total always
  // includes everything sent before); false when Redis did not take them (they stay local).
  async function sync (key: string, c: Counter): Promise<boolean> {
    while (c.syncing) await c.syncing
    if (c.pending === 0) return true
    c.syncing = send(key, c)
    try {
      return await c.syncing
    } finally {
      c.syncing = null
    }
  }

  async function flush (): Promise<void> {
    timer = null
    const keys = [...dirty]
    dirty.clear()
    await Promise.all(keys.map(async (key) => {
      const c = counters.get(key)
      // Not taken by Redis, or counted again meanwhile: sent with the next flush.
      if (c !== undefined && (!await sync(key, c) || c.pending > 0)) dirty.add(key)
    }))
    if (dirty.size > 0) scheduleFlush()
  }

  const sweeper = setInterval(function dropEnded () {
    const now = Date.now()
    for (const [key, c] of counters) {
      if (c.pending === 0 && !c.syncing && now >= c.windowEnds) counters.delete(key)
    }
  }, SWEEP_MS)
  sweeper.unref()

  function scheduleFlush (): void {
    if (timer === null && !closed) {
      timer = setTimeout(() => { flush().catch(() => {}) }, SYNC_MS)
      timer.unref()
    }
  }

  // Marks a counter as having counts to send and makes sure a flush is coming.
  function later (key: string): void {
    dirty.add(key)
    scheduleFlush()
  }

  function incr (key: string, windowMs: number, max: number, cb: Callback): void {
    const now = Date.now()
    let c = counters.get(key)
    if (c && now >= c.windowEnds && !c.syncing && c.pending === 0) c = undefined
    if (c && max - current(c) > exactWithin(max)) {
      c.pending += 1
      later(key)
      cb(null, { current: current(c), ttl: Math.max(0, c.windowEnds - now) })
      return
    }
    // A caller's first request in this window here, or one near the limit: counted in Redis
    // before it is answered.
    const counter = c ?? { shared: 0, pending: 0, inFlight: 0, windowEnds: now + windowMs, windowMs, syncing: null }
    counters.set(key, counter)
    counter.pending += 1
    sync(key, counter).then((ok) => {
      if (!ok) {
        // Not counted anywhere: the limiter decides (it lets requests through on store errors).
        counter.pending -= 1
        cb(new Error('rate limit counter unavailable'))
        return
      }
      if (counter.pending > 0) later(key)
      cb(null, { current: current(counter), ttl: Math.max(0, counter.windowEnds - Date.now()) })
    }, (err: Error) => cb(err))
  }

  return {
    incr,
    flush,
    async close () {
      closed = true
      clearInterval(sweeper)
      if (timer) clearTimeout(timer)
      timer = null
      await flush()
    }
  }
}
