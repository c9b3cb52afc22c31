// A live-feed client's view, as the protocol asks clients to keep it (schemas/realtime.ts):
// the top `limit` (entries upserted, re-sorted by the ranking rule, trimmed to `limit`) and the
// caller's own rank and score.

interface Entry { userId: string, score: number, reachedAt: string }

function compare (a: Entry, b: Entry): number {
  if (a.score !== b.score) return b.score - a.score
  if (a.reachedAt !== b.reachedAt) return a.reachedAt < b.reachedAt ? -1 : 1
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0
}

export interface View {
  seq: number | null
  top: Array<[string, number]>
  me: { rank: number | null, score: number | null } | null
}

export function viewOf (frames: any[], limit: number): View {
  const entries = new Map<string, Entry>()
  let me: View['me'] = null
  let seq: number | null = null
  for (const f of frames) {
    if (f.type === 'snapshot') {
      entries.clear()
      for (const e of f.entries) entries.set(e.userId, e)
      me = f.me ? { rank: f.me.rank, score: f.me.score } : null
    } else if (f.type === 'update') {
      for (const e of f.entries) entries.set(e.userId, e)
      for (const id of f.removed) entries.delete(id)
      if (f.me) me = f.me.rank === null ? null : { rank: f.me.rank, score: f.me.score }
      const kept = [...entries.values()].sort(compare).slice(0, limit)
      entries.clear()
      for (const e of kept) entries.set(e.userId, e)
    } else if (f.type === 'rank') {
      me = f.rank === null ? null : { rank: f.rank, score: f.score }
    } else {
      continue
    }
    seq = Math.max(seq ?? f.seq, f.seq)
  }
  return { seq, top: [...entries.values()].sort(compare).slice(0, limit).map((e) => [e.userId, e.score]), me }
}
