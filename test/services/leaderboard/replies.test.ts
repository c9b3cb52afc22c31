import { test } from 'tap'
import { decodeFinish, decodeFlush, decodeLoad, decodeProfile, decodeRead, decodeResume, decodeSnapshot, decodeWrite } from '../../../services/leaderboard/replies.ts'
import { leaderboardKeys } from '../../../lib/redis-keys.ts'
import { applyScript, profileScript, removeScript } from '../../../services/leaderboard/scripts/writes.ts'
import { beginScript, finishScript, loadScript, retireScript } from '../../../services/leaderboard/scripts/rebuild.ts'
import { readScript, resumeScript, snapshotScript } from '../../../services/leaderboard/scripts/reads.ts'
import { flushScript } from '../../../services/leaderboard/scripts/tick.ts'

const ROW = ['0000001700000000000000000000-0000-0000-0000-000000000001', '-30', '"displayName":"A","avatarUrl":null']

test('writes: a missing projection is named, else the number of users changed', async (t) => {
  t.same(decodeWrite(-1), { projectionMissing: true, changed: 0 })
  t.same(decodeWrite(0), { projectionMissing: false, changed: 0 })
  t.same(decodeWrite(3), { projectionMissing: false, changed: 3 })
  t.same(decodeLoad(-1), { projectionMissing: true, changed: 0, revived: [] }, 'load: the projection vanished')
  t.same(decodeLoad([2]), { projectionMissing: false, changed: 2, revived: [] }, 'load: nothing put back over a tombstone')
  t.same(decodeLoad([3, 'u1', 'u2']), { projectionMissing: false, changed: 3, revived: ['u1', 'u2'] }, 'load: two users put back over tombstones')
  t.same(decodeProfile(1), { updated: true })
  t.same(decodeProfile(0), { updated: false })
})

test('finish: the reset frame\'s seq, none when nothing differed, or a missing projection', async (t) => {
  t.same(decodeFinish(-1), { projectionMissing: true, resetSeq: null })
  t.same(decodeFinish(0), { projectionMissing: false, resetSeq: null })
  t.same(decodeFinish(1700000000001), { projectionMissing: false, resetSeq: 1700000000001 })
})

test('flush: a frame, nothing to frame, or too soon with the rest of the tick', async (t) => {
  t.same(decodeFlush(42), { kind: 'framed', seq: 42 })
  t.same(decodeFlush(0), { kind: 'idle' })
  t.same(decodeFlush(-37), { kind: 'tooSoon', retryInMs: 37 })
})

test('read: fields by name; the page is absent when the cached one is current; an unranked caller has no neighbourhood', async (t) => {
  t.equal(decodeRead(null), null, 'not ready')
  const full = decodeRead(['7', 'public', '', 12, 1, 0, 4, 3, ROW, 2, 1, ROW])
  t.same(full, {
    version: '7',
    visibility: 'public',
    createdBy: null,
    total: 12,
    participant: true,
    page: { start: 0, firstRank: 1, flat: ROW },
    me: { position: 4, start: 2, range: { firstRank: 3, flat: ROW } }
  })
  const cached = decodeRead(['7', 'private', 'u1', 12, 0, 0, -1, 0, [], 0])
  t.equal(cached!.page, null)
  t.equal(cached!.me, null)
  t.equal(cached!.createdBy, 'u1')
  t.equal(cached!.participant, false)
})

test('snapshot and resume: fields by name', async (t) => {
  t.equal(decodeSnapshot(null), null)
  t.same(decodeSnapshot(['9', 3, 1, ROW, -1, 0, [], 0, 'highest_wins']), { seq: 9, scoreOrder: 'highest_wins', total: 3, top: { firstRank: 1, flat: ROW }, me: null })
  t.equal(decodeSnapshot(['9', 3, 1, ROW, -1, 0, [], 0, 'lowest_wins'])!.scoreOrder, 'lowest_wins')
  t.same(decodeSnapshot(['9', 3, 1, ROW, 0, 1, ROW, 0])!.me, { position: 0, start: 0, range: { firstRank: 1, flat: ROW } })
  t.equal(decodeResume(null), null)
  t.same(decodeResume(['9', 1, ['{}'], 2, '30']), { seq: 9, frames: ['{}'], me: { rank: 2, score: 30 } })
  t.same(decodeResume(['9', 0, [], 0, '']), { seq: 9, frames: null, me: null }, 'the buffer no longer holds them all; not ranked')
})

test('each script takes the keys its Lua reads, in order', async (t) => {
  const k = leaderboardKeys('p:', 'c')
  const all = [k.meta, k.scores, k.members, k.names, k.pending, k.framed, k.seq, k.frames, k.tick]
  t.same(applyScript.keys(k), [k.meta, k.scores, k.members, k.pending])
  t.same(removeScript.keys(k), [k.meta, k.scores, k.members, k.pending])
  t.same(profileScript.keys(k), [k.meta, k.names])
  t.same(beginScript.keys(k), [k.meta, k.members])
  t.same(loadScript.keys(k), [k.meta, k.scores, k.members, k.names, k.framed, k.pending])
  t.same(finishScript.keys(k), [k.meta, k.scores, k.members, k.framed, k.seq, k.frames])
  t.same(retireScript.keys(k), all.filter((key) => key !== k.tick), 'every key but the tick, which keeps its own short life')
  t.same(flushScript.keys(k), all)
  t.same(snapshotScript.keys(k), all)
  t.same(resumeScript.keys(k), all)
  t.same(readScript.keys(k), [k.meta, k.scores, k.members, k.names])
})
