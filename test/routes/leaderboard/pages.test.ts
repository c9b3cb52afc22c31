import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, leaderboard, seedCompetition, seedParticipants, seedUsers, updateScore } from './fixtures.ts'
import { createLeaderboardStore } from '../../../services/leaderboard/store.ts'
import { decodeRankCursor } from '../../../services/leaderboard/ranking.ts'

type Entry = { userId: string, position: number, rank: number, score: number }

// 23 participants with ties, so pages break inside groups of equal scores.
async function seeded (app: FastifyInstance) {
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 23)
  await seedParticipants(app, competitionId, users)
  for (const [i, userId] of users.entries()) await updateScore(app, { competitionId, userId, value: (i * 7) % 5 * 10 })
  return { competitionId, users }
}

async function walk (app: FastifyInstance, competitionId: string, viewer: string, first: string, direction: 'next' | 'prev') {
  const seen: Entry[] = []
  const cursors: Array<string | null> = []
  let query = first
  for (let pages = 0; pages < 20; pages++) {
    const page = await leaderboard(app, competitionId, viewer, query)
    const entries = page.body.entries as Entry[]
    if (direction === 'next') seen.push(...entries)
    else seen.unshift(...entries)
    cursors.push(page.body.prevCursor)
    const cursor = page.body[`${direction}Cursor`] as string | null
    if (cursor === null) return { seen, cursors, last: page.body }
    query = `?limit=5&cursor=${cursor}`
  }
  throw new Error('the walk did not end')
}

test('walking the leaderboard backward gives the same entries as forward', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, users } = await seeded(app)

  const forward = await walk(app, competitionId, users[0]!, '?limit=5', 'next')
  t.equal(forward.seen.length, 23)
  t.same(forward.seen.map((e) => e.position), Array.from({ length: 23 }, (_, i) => i + 1), 'every place once, in order')
  t.equal(forward.cursors[0], null, 'the first page has no previous page')
  t.ok(forward.cursors.slice(1).every((c) => c !== null), 'every later page has one')
  t.equal(decodeRankCursor(forward.cursors[1]!).direction, 'prev')

  // From the last page back to the first: pages end where the walk started, the entries agree.
  const lastPrev = forward.last.prevCursor as string
  const backward = await walk(app, competitionId, users[0]!, `?limit=5&cursor=${lastPrev}`, 'prev')
  t.same([...backward.seen, ...forward.last.entries], forward.seen, 'backward then the last page: the same entries in the same order')
  t.equal(backward.last.prevCursor, null, 'the walk ends on the first page')

  // A previous page's next cursor leads back to the page it came from.
  const middle = await leaderboard(app, competitionId, users[0]!, `?limit=5&cursor=${lastPrev}`)
  const again = await leaderboard(app, competitionId, users[0]!, `?limit=5&cursor=${middle.body.nextCursor}`)
  t.same(again.body.entries, forward.last.entries)

  // Postgres answers the same pages (the degraded path) in both directions.
  const store = createLeaderboardStore()
  const pgForward: Entry[] = []
  let cursor: string | null = null
  let lastPage: Awaited<ReturnType<typeof store.page>> | null = null
  do {
    lastPage = await store.page(app.pg.pool, competitionId, cursor === null ? null : decodeRankCursor(cursor), 5)
    pgForward.push(...lastPage.entries)
    cursor = lastPage.nextCursor
  } while (cursor !== null)
  t.same(pgForward.map((e) => [e.userId, e.position, e.rank, e.score]), forward.seen.map((e) => [e.userId, e.position, e.rank, e.score]), 'Postgres forward = Redis forward')
  const pgBackward: Entry[] = [...lastPage.entries]
  cursor = lastPage.prevCursor
  while (cursor !== null) {
    const page = await store.page(app.pg.pool, competitionId, decodeRankCursor(cursor), 5)
    pgBackward.unshift(...page.entries)
    cursor = page.prevCursor
  }
  t.same(pgBackward.map((e) => e.userId), forward.seen.map((e) => e.userId), 'Postgres backward = forward')
})

test('leaderboard pages: ETag from the projection version, 304 while unchanged, 200 after a change', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, users } = await seeded(app)
  const url = `/api/v1/leaderboard/${competitionId}?limit=5`
  const viewer = bearer({ sub: users[3]! })

  const first = await app.inject({ url, headers: viewer })
  t.equal(first.statusCode, 200)
  const etag = first.headers.etag as string
  t.match(etag, /^"[0-9]+\..+"$/, 'the version, the viewer and the view')
  t.equal(first.headers['cache-control'], 'private, no-cache')
  t.match(String(first.headers.vary), /Authorization/)

  const unchanged = await app.inject({ url, headers: { ...viewer, 'if-none-match': etag } })
  t.equal(unchanged.statusCode, 304)
  t.equal(unchanged.body, '', 'no body')
  t.equal(unchanged.headers.etag, etag)
  t.equal((await app.inject({ url, headers: { ...viewer, 'if-none-match': `"x", W/${etag}` } })).statusCode, 304, 'a list and a weak tag match too')

  // Another caller's copy is not this caller's: their own entry differs.
  const other = await app.inject({ url, headers: { ...bearer({ sub: users[4]! }), 'if-none-match': etag } })
  t.equal(other.statusCode, 200)
  t.not(other.headers.etag, etag)
  t.equal((await app.inject({ url: `${url}&around=me&k=1`, headers: { ...viewer, 'if-none-match': etag } })).statusCode, 200, 'around=me is another view')

  // Any score change moves the version, even of someone off this page.
  t.equal((await updateScore(app, { competitionId, userId: users[22]!, value: 1 })).statusCode, 200)
  const changed = await app.inject({ url, headers: { ...viewer, 'if-none-match': etag } })
  t.equal(changed.statusCode, 200)
  t.not(changed.headers.etag, etag)
  t.equal((await app.inject({ url, headers: { ...viewer, 'if-none-match': changed.headers.etag as string } })).statusCode, 304)
})
