// An instance's copy of a competition's top entries, kept current from the frame stream, and
// what each top-`limit` window of clients needs from a frame. Frames in Redis carry every
// changed entry plus `fill`: unchanged entries that entered the top TOP_DEPTH since the last
// frame (see FLUSH_FN in services/leaderboard/scripts/tick.ts), so the copy never has holes.

export const TOP_DEPTH = 100

export interface FeedEntry {
  rank: number
  position: number
  userId: string
  displayName: string | null
  avatarUrl: string | null
  score: number
  previousScore?: number | null
  reachedAt: string
}

// A frame as stored in Redis and published to instances.
export interface StoredUpdate {
  type: 'update'
  competitionId: string
  seq: number
  total: number
  entries: FeedEntry[]
  fill?: FeedEntry[]
  removed: string[]
  removedScores: number[]
}

export interface TopCopy {
  seq: number
  total: number
  // In ranking order, at most TOP_DEPTH entries.
  top: FeedEntry[]
}

// One frame applied to the copy: the tops before and after, and who changed.
export interface TopChange {
  frame: StoredUpdate
  before: FeedEntry[]
  after: FeedEntry[]
  changed: Map<string, FeedEntry>
  totalChanged: boolean
}

// The copy after `frame`, or null when it cannot be placed exactly (then the caller rebuilds
// the copy from a snapshot). Changed and fill entries carry their positions; unchanged entries
// keep their relative order, so they fill the remaining places in order.
export function applyToTop (copy: TopCopy, frame: StoredUpdate): TopChange | null {
  const changed = new Map<string, FeedEntry>()
  for (const e of frame.entries) changed.set(e.userId, e)
  const placedIds = new Set<string>(frame.removed)
  const size = Math.min(TOP_DEPTH, frame.total)
  const slots: Array<FeedEntry | undefined> = new Array(size)
  for (const e of [...frame.entries, ...(frame.fill ?? [])]) {
    placedIds.add(e.userId)
    if (e.position <= size) slots[e.position - 1] = e
  }
  let i = 0
  for (const old of copy.top) {
    if (placedIds.has(old.userId)) continue
    while (i < size && slots[i] !== undefined) i++
    if (i >= size) break
    slots[i++] = old
  }
  const after: FeedEntry[] = []
  for (let j = 0; j < size; j++) {
    const e = slots[j]
    if (e === undefined) return null
    const rank = j > 0 && e.score === after[j - 1]!.score ? after[j - 1]!.rank : j + 1
    // The copy holds entries as of its seq: unchanged since then (previousScore = score).
    after.push(e.position === j + 1 && e.rank === rank && e.previousScore === e.score ? e : { ...e, position: j + 1, rank, previousScore: e.score })
  }
  const before = copy.top
  const totalChanged = copy.total !== frame.total
  copy.top = after
  copy.seq = frame.seq
  copy.total = frame.total
  return { frame, before, after, changed, totalChanged }
}

export interface WindowChanges {
  entries: FeedEntry[]
  removed: string[]
  removedScores: number[]
}

// What a client showing the top `limit` needs: entries now in its window that changed or came
// in, and changed entries that left it (their new position tells the client to drop them).
// Entries pushed out by others are dropped by the client when it trims to `limit`.
export function windowChanges (change: TopChange, limit: number): WindowChanges {
  const { before, after, changed, frame } = change
  const wasIn = new Set<string>()
  for (let j = 0; j < Math.min(limit, before.length); j++) wasIn.add(before[j]!.userId)
  const entries: FeedEntry[] = []
  const isIn = new Set<string>()
  for (let j = 0; j < Math.min(limit, after.length); j++) {
    const e = after[j]!
    isIn.add(e.userId)
    const own = changed.get(e.userId)
    if (own) entries.push(own)
    else if (!wasIn.has(e.userId)) entries.push(e)
  }
  for (const userId of wasIn) {
    const own = changed.get(userId)
    if (own && !isIn.has(userId)) entries.push(own)
  }
  entries.sort((a, b) => a.position - b.position)
  const removed: string[] = []
  const removedScores: number[] = []
  frame.removed.forEach((userId, j) => {
    if (wasIn.has(userId)) { removed.push(userId); removedScores.push(frame.removedScores[j]!) }
  })
  return { entries, removed, removedScores }
}
