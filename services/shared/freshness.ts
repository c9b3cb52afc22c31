import type { Redis } from 'ioredis'
import { setRecent } from '../../lib/recent-map.ts'

// What this instance knows to be current of shared data (a competition's leaderboard version, a
// user's profile), so a read can be answered from memory without asking Redis. Every change is
// announced on one pub/sub channel per kind of data (the key that changed is the message); a
// value read from Redis stays "known" until such an announcement, for at most
// maxAgeMs (changes that bypass the announcement, such as keys deleted by hand, are seen within
// that time), and never while the subscriber is not connected (announcements may have been missed).

export interface FreshnessDeps {
  subscriber: Pick<Redis, 'subscribe' | 'unsubscribe' | 'on' | 'off' | 'status'>
  channel: string
  maxAgeMs: number
  now?: () => number
}

export interface Freshness<V> {
  // The value known to be current, or null (then ask Redis).
  current: (key: string) => V | null
  // Taken before reading from Redis; confirm() ignores a read overtaken by a change.
  ticket: (key: string) => number
  confirm: (key: string, value: V, ticket: number) => void
  // A change made by this instance: forgotten at once, before its announcement arrives.
  changed: (key: string) => void
  start: () => Promise<void>
  close: () => Promise<void>
}

const MAX_KNOWN = 10_000

export function createFreshness<V> (deps: FreshnessDeps): Freshness<V> {
  const { subscriber, channel, maxAgeMs } = deps
  const now = deps.now ?? Date.now
  const known = new Map<string, { value: V, at: number }>()
  // Bumped on every change of a key, and for all of them when announcements may be lost.
  const changes = new Map<string, number>()
  let generation = 0
  let listening = false

  function changed (key: string): void {
    known.delete(key)
    changes.set(key, (changes.get(key) ?? 0) + 1)
    if (changes.size > MAX_KNOWN) {
      changes.clear()
      generation++
    }
  }

  function forgetAll (): void {
    listening = false
    known.clear()
    generation++
  }

  function onMessage (from: string, key: string): void {
    if (from === channel) changed(key)
  }

  async function listen (): Promise<void> {
    try {
      await subscriber.subscribe(channel)
      if (subscriber.status !== 'ready' || listening) return
      // Reads that began before this point may have missed an announcement.
      generation++
      listening = true
    } catch {
      // Not connected: reads go to Redis until the subscriber is back.
    }
  }
  const onReady = () => { listen().catch(() => {}) }

  function ticket (key: string): number {
    // Unique per (generation, change count): any change or lost connection in between differs.
    return generation * 1e9 + (changes.get(key) ?? 0)
  }

  return {
    current (key) {
      if (!listening) return null
      const entry = known.get(key)
      if (entry === undefined) return null
      if (now() - entry.at > maxAgeMs) {
        known.delete(key)
        return null
      }
      return entry.value
    },
    ticket,
    confirm (key, value, taken) {
      if (!listening || taken !== ticket(key)) return
      setRecent(known, key, { value, at: now() }, MAX_KNOWN)
    },
    changed,
    async start () {
      subscriber.on('message', onMessage)
      subscriber.on('close', forgetAll)
      subscriber.on('ready', onReady)
      if (subscriber.status === 'ready') await listen()
    },
    async close () {
      subscriber.off('message', onMessage)
      subscriber.off('close', forgetAll)
      subscriber.off('ready', onReady)
      forgetAll()
      await subscriber.unsubscribe(channel).catch(() => {})
    }
  }
}
