import { test } from 'tap'
import {
  assignRanks, compareStandings, decodeRankCursor, encodeRankCursor, memberOf, microsToIso, parseMember, zsetScore
} from '../../../services/leaderboard/ranking.ts'

const A = '00000000-0000-4000-8000-00000000000a'
const B = '00000000-0000-4000-8000-00000000000b'
const C = '00000000-0000-4000-8000-00000000000c'
const D = '00000000-0000-4000-8000-00000000000d'

test('order: score desc, then first to reach, then user id; ranks 1, 2, 2, 4', async (t) => {
  const rows = [
    { userId: D, score: 5, reachedMicros: '100' },
    { userId: C, score: 20, reachedMicros: '300' },
    { userId: B, score: 20, reachedMicros: '200' },
    { userId: A, score: 30, reachedMicros: '900' },
    { userId: A.replace('a', 'e'), score: 20, reachedMicros: '200' }
  ].sort(compareStandings)
  t.same(rows.map((r) => r.userId), [A, B, A.replace('a', 'e'), C, D], 'same reached time falls back to user id')
  t.same(assignRanks(rows).map((r) => [r.rank, r.position]), [[1, 1], [2, 2], [2, 3], [2, 4], [5, 5]])
  t.same(assignRanks(rows.slice(2), 3, 2).map((r) => r.rank), [2, 2, 5], 'a page starting inside a tie keeps the tie\'s rank')
})

test('Redis member encoding sorts exactly like the rule, and scores stay exact past 2^53 - 2', async (t) => {
  t.equal(zsetScore(0), '0')
  t.equal(zsetScore(Number.MAX_SAFE_INTEGER), '-9007199254740991')
  t.equal(-Number(zsetScore(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER, 'the double holds the integer exactly')
  t.not(Number(zsetScore(Number.MAX_SAFE_INTEGER)), Number(zsetScore(Number.MAX_SAFE_INTEGER - 1)))
  const early = memberOf('1700000000000000', B)
  const late = memberOf('1700000000000001', A)
  t.ok(early < late, 'earlier reach sorts first whatever the user id')
  t.ok(memberOf('999', A) < memberOf('1000', A), 'zero padding keeps numeric order')
  t.same(parseMember(late), { reachedMicros: '1700000000000001', userId: A })
})

test('microsecond timestamps and cursors round-trip', async (t) => {
  t.equal(microsToIso('1795574609304372'), '2026-11-25T02:43:29.304372Z')
  t.equal(microsToIso('5'), '1970-01-01T00:00:00.000005Z')
  t.equal(microsToIso('0001795574609304372'), '2026-11-25T02:43:29.304372Z', 'zero-padded as in sorted-set members')
  t.equal(microsToIso('-1'), '1969-12-31T23:59:59.999999Z', 'before the epoch, the fraction counts forward from the whole second')
  t.equal(microsToIso('9007199254740993'), '2255-06-05T23:47:34.740993Z', 'beyond doubles\' exact integers: still exact')
  const wrong: string[] = []
  for (let i = 0; i < 1000; i++) {
    const ms = Math.floor(Math.random() * 4_102_444_800_000)
    const extra = Math.floor(Math.random() * 1000)
    const iso = microsToIso(String(ms * 1000 + extra))
    if (iso !== `${new Date(ms).toISOString().slice(0, 23)}${String(extra).padStart(3, '0')}Z`) wrong.push(`${ms * 1000 + extra}: ${iso}`)
  }
  t.same(wrong, [], 'random instants up to 2100 agree with Date to the millisecond and keep their microseconds')
  const cursor = encodeRankCursor({ userId: A, score: 42, reachedMicros: '1795574609304372' })
  t.same(decodeRankCursor(cursor), { standing: { userId: A, score: 42, reachedMicros: '1795574609304372' }, direction: 'next' })
  const back = encodeRankCursor({ userId: A, score: 42, reachedMicros: '1795574609304372' }, 'prev')
  t.same(decodeRankCursor(back), { standing: { userId: A, score: 42, reachedMicros: '1795574609304372' }, direction: 'prev' })
  for (const bad of ['nope', Buffer.from('[1,2]').toString('base64url'), Buffer.from(`[-1,"1","${A}"]`).toString('base64url'), Buffer.from('[1,"x","y"]').toString('base64url')]) {
    t.throws(() => decodeRankCursor(bad), { message: 'cursor is invalid' }, `rejects ${bad}`)
  }
})
