import { test } from 'tap'
import { competitionKey, hashTag, leaderboardChangesChannel, leaderboardChannel, leaderboardKeys } from '../../lib/redis-keys.ts'

test('a competition\'s leaderboard keys are named, distinct and share one hash tag with its channel', async (t) => {
  const keys = leaderboardKeys('hc:', 'c1')
  t.same(Object.keys(keys), ['meta', 'scores', 'members', 'names', 'pending', 'framed', 'seq', 'frames', 'tick'])
  t.equal(keys.scores, 'hc:{c:c1}:lb:scores')
  t.equal(keys.tick, competitionKey('hc:', 'c1', 'lb:tick'))
  const all = Object.values(keys)
  t.equal(new Set(all).size, all.length, 'no two names share a key')
  t.same(new Set(all.map(hashTag)), new Set(['c:c1']), 'one hash tag')
  t.equal(leaderboardChannel('hc:', 'c1'), 'hc:{c:c1}:lb:feed')
  t.equal(hashTag(leaderboardChannel('hc:', 'c1')), 'c:c1', 'the channel too')
  t.not(hashTag(leaderboardKeys('hc:', 'c2').meta), hashTag(keys.meta), 'another competition, another tag')
})

test('the changes channel is one per prefix, without a hash tag', async (t) => {
  t.equal(leaderboardChangesChannel('hc:'), 'hc:lb:changes')
  t.equal(hashTag(leaderboardChangesChannel('hc:')), '')
})
