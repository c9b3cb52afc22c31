import type { FeedEntry, StoredUpdate, TopChange } from './windows.ts'
import { windowChanges } from './windows.ts'
import { sharedTextFrame, type SharedFrame, type SplitFrame } from '../../lib/ws-shared-frame.ts'

// Client frames of the live feed, assembled from pre-serialised parts: each entry is turned
// into JSON once per frame, each window's frame once per frame, and a client's own part is
// appended as a short string (see schemas/realtime.ts for the protocol).

// The caller's own rank and score when they changed (the fields of a rank frame).
export interface OwnChange {
  rank: number | null
  previousRank: number | null
  score: number | null
}

export interface WindowFrame {
  // Nothing in this window changed (and neither did the number of participants).
  empty: boolean
  // The frame without its closing brace: a client's own part goes there.
  head: string
  // The whole frame, for the clients whose own rank and score did not move: framed once.
  shared: SharedFrame
  // The head's bytes (a view into `shared`), shared by the frames that carry a client's own part.
  headBytes: Buffer
}

// Entry JSON by entry object, filled on first use; one per frame.
export type EntryJson = Map<FeedEntry, string>

function json (cache: EntryJson, e: FeedEntry): string {
  let s = cache.get(e)
  if (s === undefined) {
    s = JSON.stringify(e.previousScore === undefined ? { ...e, previousScore: e.score } : e)
    cache.set(e, s)
  }
  return s
}

function head (frame: { competitionId: string, seq: number, total: number }, entries: string[], removed: string[], removedScores: number[]): string {
  return `{"type":"update","competitionId":"${frame.competitionId}","seq":${frame.seq},"total":${frame.total},` +
    `"entries":[${entries.join(',')}],"removed":${JSON.stringify(removed)},"removedScores":${JSON.stringify(removedScores)}`
}

export function windowFrame (change: TopChange, limit: number, cache: EntryJson): WindowFrame {
  const w = windowChanges(change, limit)
  const h = head(change.frame, w.entries.map((e) => json(cache, e)), w.removed, w.removedScores)
  const shared = sharedTextFrame(Buffer.from(h + '}'))
  return { empty: w.entries.length === 0 && w.removed.length === 0 && !change.totalChanged, head: h, shared, headBytes: shared.data.subarray(0, -1) }
}

// A window's frame closed with one client's own part, without a copy of the window per client.
export function withOwnFrame (window: WindowFrame, own: OwnChange): SplitFrame {
  return { head: window.headBytes, tail: Buffer.from(`,"me":${JSON.stringify(own)}}`) }
}

// A frame head closed with the client's own part.
export function withOwn (head: string, own: OwnChange): string {
  return `${head},"me":${JSON.stringify(own)}}`
}

export function rankFrame (competitionId: string, seq: number, userId: string, own: OwnChange): string {
  return JSON.stringify({ type: 'rank', competitionId, seq, userId, ...own })
}

// Missed frames replayed in full (every changed entry: a superset of any window), the last one
// also carrying the whole current top `limit` and the caller's own rank and score, so a client
// that trims to `limit` ends with the exact window whatever it missed.
export function replayFrames (frames: StoredUpdate[], top: FeedEntry[], limit: number, own: OwnChange | null): string[] {
  const cache: EntryJson = new Map()
  return frames.map((frame, i) => {
    const entries = [...frame.entries]
    const last = i === frames.length - 1
    if (last) {
      const listed = new Set(entries.map((e) => e.userId))
      for (const e of top.slice(0, limit)) if (!listed.has(e.userId)) entries.push(e)
      entries.sort((a, b) => a.position - b.position)
    }
    const h = head(frame, entries.map((e) => json(cache, e)), frame.removed, frame.removedScores)
    return last && own ? withOwn(h, own) : `${h}}`
  })
}
