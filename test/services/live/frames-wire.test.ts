import { test } from 'tap'
import { rankFrame, replayFrames, windowFrame, withOwn, withOwnFrame, type EntryJson, type OwnChange } from '../../../services/live/frames.ts'
import { applyToTop, TOP_DEPTH, type FeedEntry, type StoredUpdate, type TopCopy } from '../../../services/live/windows.ts'
import { microsToIso } from '../../../services/leaderboard/ranking.ts'
import { RankFrameSchema, ServerFrameSchema, UpdateFrameSchema } from '../../../schemas/realtime.ts'
import { avatarUrl, displayName, faults, prng, score, seedOf, uuid, type Random } from '../../wire-schemas.ts'

// The frame builders' output, the JSON text the sockets get, validated against the frame
// schemas over generated boards: empty, one participant, ties, windows cut through ties,
// joins and leaves, awkward names, null avatars, scores near 2^53.

interface Member { userId: string, score: number, micros: number, displayName: string | null, avatarUrl: string | null }

function ranked (members: Iterable<Member>): Array<Member & { rank: number, position: number }> {
  const sorted = [...members].sort((a, b) => b.score - a.score || a.micros - b.micros || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
  let rank = 1
  return sorted.map((m, i) => {
    if (i > 0 && m.score !== sorted[i - 1]!.score) rank = i + 1
    return { ...m, rank, position: i + 1 }
  })
}

function feedEntry (m: Member & { rank: number, position: number }, previousScore: number | null): FeedEntry {
  return { rank: m.rank, position: m.position, userId: m.userId, displayName: m.displayName, avatarUrl: m.avatarUrl, score: m.score, previousScore, reachedAt: microsToIso(String(m.micros)) }
}

// A board and the frames it produces, as the flush script builds them (every changed entry,
// `fill` for unchanged entries that came into the top TOP_DEPTH, leavers with their scores).
function board (random: Random) {
  const members = new Map<string, Member>()
  let clock = 1_700_000_000_000_000
  let seq = 1_700_000_000_000_000 + random.int(0, 1000)
  const join = (): void => {
    const userId = uuid(random)
    members.set(userId, { userId, score: 0, micros: clock += random.int(0, 2), displayName: displayName(random), avatarUrl: avatarUrl(random) })
  }
  for (let i = random.pick([0, 1, 2, 5, 30, 120]); i > 0; i--) join()

  function step (): { before: ReturnType<typeof ranked>, after: ReturnType<typeof ranked>, frame: StoredUpdate } {
    const before = ranked(members.values())
    const previous = new Map(before.map((m) => [m.userId, m.score]))
    const changed = new Set<string>()
    const removed: string[] = []
    for (let i = random.int(1, 6); i > 0; i--) {
      const r = random.next()
      if (r < 0.15 || members.size === 0) {
        join()
        changed.add([...members.keys()].at(-1)!)
      } else if (r < 0.25) {
        const m = random.pick([...members.values()])
        members.delete(m.userId)
        changed.delete(m.userId)
        if (previous.has(m.userId)) removed.push(m.userId)
      } else {
        const m = random.pick([...members.values()])
        const value = random.chance(0.3) ? random.pick(before.map((b) => b.score).concat(0)) : score(random)
        // A change of score moves reachedAt, as Postgres does; the same score changes nothing.
        if (value !== m.score) { m.score = value; m.micros = clock += random.int(0, 3); changed.add(m.userId) }
      }
    }
    const after = ranked(members.values())
    const topBefore = new Set(before.slice(0, TOP_DEPTH).map((m) => m.userId))
    const entries = after.filter((m) => changed.has(m.userId)).map((m) => feedEntry(m, previous.get(m.userId) ?? null))
    const fill = after.slice(0, TOP_DEPTH).filter((m) => !changed.has(m.userId) && !topBefore.has(m.userId)).map((m) => feedEntry(m, m.score))
    const frame: StoredUpdate = {
      type: 'update',
      competitionId: COMPETITION,
      seq: ++seq,
      total: after.length,
      entries,
      fill,
      removed,
      removedScores: removed.map((id) => previous.get(id)!)
    }
    return { before, after, frame }
  }
  return { step, members }
}

const COMPETITION = '00000000-0000-4000-8000-0000000000c1'

function own (random: Random, before: ReturnType<typeof ranked>, after: ReturnType<typeof ranked>): OwnChange {
  const pool = [...before, ...after]
  if (pool.length === 0) return { rank: null, previousRank: null, score: null }
  const userId = random.pick(pool).userId
  const now = after.find((m) => m.userId === userId)
  const then = before.find((m) => m.userId === userId)
  return { rank: now?.rank ?? null, previousRank: random.chance(0.2) ? null : then?.rank ?? null, score: now?.score ?? null }
}

function checked (t: { fail: (message: string) => unknown }, schema: unknown, text: string, what: string): any {
  const frame = JSON.parse(text)
  const found = [...faults(schema, frame), ...faults(ServerFrameSchema, frame)]
  if (found.length > 0) t.fail(`${what}: ${JSON.stringify(found).slice(0, 1500)}\n${text.slice(0, 1500)}`)
  return frame
}

test('update, rank and replayed frames from generated boards match their schemas', async (t) => {
  const seed = seedOf()
  t.comment(`seed ${seed} (TEST_SEED=${seed} replays it)`)
  const random = prng(seed)
  const counts: Record<string, number> = { update: 0, updateWithMe: 0, rank: 0, replayed: 0, emptyWindow: 0, removed: 0, nullPrevious: 0 }
  for (let run = 0; run < 40; run++) {
    const { step } = board(random)
    let copy: TopCopy | null = null
    const history: StoredUpdate[] = []
    for (let s = 0; s < 12; s++) {
      const { before, after, frame } = step()
      copy ??= { seq: frame.seq - 1, total: before.length, top: before.slice(0, TOP_DEPTH).map((m) => feedEntry(m, m.score)) }
      const change = applyToTop(copy, frame)
      if (!change) { t.fail(`seed ${seed}: the frame could not be applied to the copy`); return }
      if (change.after.map((e) => e.userId).join() !== after.slice(0, TOP_DEPTH).map((m) => m.userId).join()) t.fail(`seed ${seed}: the copy does not follow the board`)
      history.push(frame)
      // Frames are stored as JSON and parsed again by every instance: what the builders get.
      const stored = JSON.parse(JSON.stringify(frame)) as StoredUpdate
      const cache: EntryJson = new Map()
      const limits = new Set([1, 2, 3, 10, 50, 100, random.int(1, 100), Math.max(1, Math.min(100, after.length)), Math.max(1, Math.min(100, after.length + 1))])
      for (const limit of limits) {
        const window = windowFrame(change, limit, cache)
        const text = window.head + '}'
        const update = checked(t, UpdateFrameSchema, text, `update limit ${limit}`)
        // The shared frame (and its wire bytes) carry the same text.
        if (window.shared.data.toString() !== text || window.shared.wire.subarray(window.shared.wire.length - window.shared.data.length).toString() !== text) t.fail('shared frame differs')
        counts.update!++
        if (window.empty) counts.emptyWindow!++
        if (update.removed.length > 0) counts.removed!++
        if (update.entries.some((e: any) => e.previousScore === null)) counts.nullPrevious!++
        const mine = own(random, before, after)
        const split = withOwnFrame(window, mine)
        const closed = Buffer.concat([split.head, split.tail]).toString()
        if (JSON.stringify(checked(t, UpdateFrameSchema, closed, `update with me, limit ${limit}`).me) !== JSON.stringify(mine)) t.fail('me differs')
        if (withOwn(window.head, mine) !== closed) t.fail('the two ways of adding the own part differ')
        counts.updateWithMe!++
        checked(t, RankFrameSchema, rankFrame(COMPETITION, stored.seq, uuid(random), mine), 'rank')
        counts.rank!++
      }
      // A resume from a few frames back, with and without the caller's own part.
      const from = random.int(Math.max(0, history.length - 4), history.length - 1)
      const replay = replayFrames(history.slice(from).map((f) => JSON.parse(JSON.stringify(f))), copy.top, random.pick([1, 5, 50, 100]), random.chance(0.5) ? own(random, before, after) : null)
      for (const text of replay) { checked(t, UpdateFrameSchema, text, 'replayed update'); counts.replayed!++ }
    }
  }
  t.comment(JSON.stringify(counts))
  for (const [what, n] of Object.entries(counts)) t.ok(n > 0, `generated: ${what} (${n})`)
})

test('the schemas refuse frames that are not exactly right', async (t) => {
  const entry = { rank: 1, position: 1, userId: '00000000-0000-4000-8000-0000000000e1', displayName: null, avatarUrl: null, score: 5, previousScore: 3, reachedAt: '2026-01-01T00:00:00.123456Z' }
  const update = { type: 'update', competitionId: COMPETITION, seq: 7, total: 1, entries: [entry], removed: [], removedScores: [] }
  t.same(faults(ServerFrameSchema, update), [], 'the sample is valid')
  const broken: Array<[string, unknown]> = [
    ['an unknown property', { ...update, extra: 1 }],
    ['an unknown entry property', { ...update, entries: [{ ...entry, fill: true }] }],
    ['a missing seq', { ...update, seq: undefined }],
    ['a fractional score', { ...update, entries: [{ ...entry, score: 1.5 }] }],
    ['a score past 2^53', { ...update, entries: [{ ...entry, score: 2 ** 53 + 2 }] }],
    ['a score as a string', { ...update, entries: [{ ...entry, score: '5' }] }],
    ['rank 0', { ...update, entries: [{ ...entry, rank: 0 }] }],
    ['a missing displayName', { ...update, entries: [{ ...entry, displayName: undefined }] }],
    ['a bad reachedAt', { ...update, entries: [{ ...entry, reachedAt: 'yesterday' }] }],
    ['an unknown type', { ...update, type: 'reset' }],
    ['a me without previousRank', { ...update, me: { rank: 1, score: 5 } }],
    ['an error with another code', { type: 'error', code: 'NOPE', message: 'x' }],
    ['a pong with a body', { type: 'pong', seq: 1 }]
  ]
  for (const [what, frame] of broken) t.not(faults(ServerFrameSchema, JSON.parse(JSON.stringify(frame))).length, 0, `refused: ${what}`)
})
