import { errors } from '../../lib/errors.ts'
import { isLowercaseUuid } from '../../lib/uuid.ts'
import { decodePageCursor, encodeCursor, type Direction } from '../shared/cursors.ts'

// The ranking rule, the same in Redis, in the Postgres fallback, in WebSocket frames and in
// prize maths:
//   order by score (desc, or asc where the lowest wins), reached_at asc (first to reach a score
//   ranks higher), user_id asc.
// `position` is the 1-based place in that order (unique). `rank` is competition ranking:
// 1 + the number of participants with a strictly better score, so ties show 1, 2, 2, 4.
// Where the lowest wins, a participant without a score yet is not on the board (a score of 0
// would otherwise lead it).
//
// reached_at is compared at microsecond precision (Postgres timestamptz), carried as an
// integer number of microseconds since the epoch ("micros") wherever it is encoded.

export interface Standing {
  userId: string
  score: number
  reachedMicros: string
}

// Microseconds are 16 digits until the year 2286; zero-padded they sort as strings.
const MICROS_DIGITS = 16
const MICROS = /^\d{1,16}$/

export type ScoreOrder = 'highest_wins' | 'lowest_wins'

// Whether score a ranks strictly above score b.
export function isBetter (order: ScoreOrder, a: number, b: number): boolean {
  return order === 'lowest_wins' ? a < b : a > b
}

export function compareStandings (a: Standing, b: Standing, order: ScoreOrder = 'highest_wins'): number {
  if (a.score !== b.score) return isBetter(order, a.score, b.score) ? -1 : 1
  const ra = padMicros(a.reachedMicros)
  const rb = padMicros(b.reachedMicros)
  if (ra !== rb) return ra < rb ? -1 : 1
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0
}

// Ranks a list already sorted by compareStandings, starting at `firstPosition` whose rank is
// `firstRank` (a page that does not start at the top).
export function assignRanks<T extends { score: number }> (sorted: T[], firstPosition = 1, firstRank = 1): Array<T & { rank: number, position: number }> {
  let rank = firstRank
  return sorted.map((entry, i) => {
    const position = firstPosition + i
    if (i > 0 && entry.score !== sorted[i - 1]!.score) rank = position
    return { ...entry, rank, position }
  })
}

export function padMicros (micros: string): string {
  return micros.padStart(MICROS_DIGITS, '0')
}

// Redis encoding. The sorted-set score is minus the integer score, or the score itself where the
// lowest wins (exact as a double for every safe integer, so no precision is lost); members with
// equal scores sort by their bytes, and the member is the zero-padded reached_at followed by the
// user id, so ascending ZRANGE order is exactly the ranking order above. The Lua scripts apply
// the same rule (zs in scripts/lua.ts).
export function zsetScore (score: number, order: ScoreOrder = 'highest_wins'): string {
  return score === 0 || order === 'lowest_wins' ? String(score) : `-${score}`
}

// The score back from a sorted-set score of either order (scores are never negative).
export function scoreOfZset (zscore: string): number {
  return Math.abs(Number(zscore))
}

export function memberOf (reachedMicros: string, userId: string): string {
  return `${padMicros(reachedMicros)}${userId}`
}

export function parseMember (member: string): { reachedMicros: string, userId: string } {
  return { reachedMicros: member.slice(0, MICROS_DIGITS), userId: member.slice(MICROS_DIGITS) }
}

// ISO-8601 UTC with the microseconds Postgres keeps, e.g. 2026-11-25T02:32:57.123456Z.
// reached_at as micros, in SQL over participants aliased p.
export const MICROS_SQL = '(extract(epoch FROM p.reached_at) * 1000000)::bigint::text'

// Micros since the epoch as ISO 8601 with six fraction digits. Called for every participant a
// rebuild loads and every entry a read returns, so it stays in doubles (exact for any time
// before the year 2255) and takes BigInt only beyond that.
export function microsToIso (micros: string): string {
  const value = Number(micros)
  if (!Number.isSafeInteger(value)) return bigMicrosToIso(BigInt(micros))
  const fraction = ((value % 1_000_000) + 1_000_000) % 1_000_000
  return isoWithFraction((value - fraction) / 1000, fraction)
}

function bigMicrosToIso (value: bigint): string {
  const fraction = ((value % 1_000_000n) + 1_000_000n) % 1_000_000n
  return isoWithFraction(Number((value - fraction) / 1000n), Number(fraction))
}

function isoWithFraction (wholeSecondMs: number, fraction: number): string {
  return `${new Date(wholeSecondMs).toISOString().slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`
}

// Opaque page cursor in the shared cursor codec: the last entry's sort key for the next page,
// the first entry's for the previous one.
export function encodeRankCursor (entry: Standing, direction: Direction = 'next'): string {
  return encodeCursor([entry.score, entry.reachedMicros, entry.userId], direction)
}

export interface RankCursor { standing: Standing, direction: Direction }

// The cursors of a page of entries in ranking order: back from its first unless it starts the
// board (its position says so), on from its last while more follow. Redis and Postgres pages alike.
export function rankPageCursors (entries: Array<Standing & { position: number }>, hasNext: boolean): { nextCursor: string | null, prevCursor: string | null } {
  const first = entries[0]
  const last = entries.at(-1)
  return {
    nextCursor: hasNext && last !== undefined ? encodeRankCursor(last) : null,
    prevCursor: first !== undefined && first.position > 1 ? encodeRankCursor(first, 'prev') : null
  }
}

export function decodeRankCursor (cursor: string): RankCursor {
  const { key, direction } = decodePageCursor(cursor, ['number', 'string', 'string'])
  const [score, reachedMicros, userId] = key as [number, string, string]
  if (score < 0 || !MICROS.test(reachedMicros) || !isLowercaseUuid(userId)) throw errors.BadRequest('cursor is invalid')
  return { standing: { score, reachedMicros, userId }, direction }
}
