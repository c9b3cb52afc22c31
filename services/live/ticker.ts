import type { FlushResult } from '../leaderboard/replies.ts'

// The one owner of the live feed's tick. Changes to a competition's projection are coalesced
// here: the first change schedules a frame one tick later, later changes join it. The frame is
// built, numbered and published by Redis (flush, services/leaderboard/scripts/tick.ts), which
// allows at most one frame per tick across instances; the broadcaster only receives frames.
//
//   score change -> projection (Redis) -> ticker.changed -> flush -> publish -> broadcaster -> sockets

export interface TickerDeps {
  // Frames what changed since the last frame and publishes it (the projection's flush).
  flush: (competitionId: string) => Promise<FlushResult>
  tickMs: number
  // How often the competitions watched here are framed without a change from this instance:
  // another writer may have applied changes and stopped before its tick.
  sweepMs: number
  // Competitions with clients on this instance.
  watched: () => Iterable<string>
  // A frame could not be made (Redis failed): the projection may have missed changes.
  onFailed: (competitionId: string, err: unknown) => void
}

export function createTicker (deps: TickerDeps) {
  const { flush, tickMs, onFailed } = deps
  const timers = new Map<string, NodeJS.Timeout>()
  let closed = false

  // A frame for the competition within a tick (none scheduled twice).
  function changed (competitionId: string, delay = tickMs): void {
    if (closed || timers.has(competitionId)) return
    const timer = setTimeout(() => {
      timers.delete(competitionId)
      tick(competitionId)
    }, Math.max(1, delay))
    timers.set(competitionId, timer)
  }

  // Frames what changed since the last frame. Another instance may have framed less than a tick
  // ago: then try again when its tick ends, so a burst costs at most one frame per tick.
  async function tick (competitionId: string): Promise<void> {
    try {
      const result = await flush(competitionId)
      if (result.kind === 'tooSoon') changed(competitionId, result.retryInMs)
    } catch (err) {
      onFailed(competitionId, err)
    }
  }

  const sweep = setInterval(() => {
    for (const competitionId of deps.watched()) tick(competitionId)
  }, deps.sweepMs)
  sweep.unref()

  function close (): void {
    closed = true
    clearInterval(sweep)
    for (const timer of timers.values()) clearTimeout(timer)
    timers.clear()
  }

  return { changed, tick, close }
}

export type Ticker = ReturnType<typeof createTicker>
