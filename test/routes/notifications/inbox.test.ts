import { test } from 'tap'
import { bearer, build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers, updateScore } from '../leaderboard/fixtures.ts'
import { notificationsOf, settled } from './fixtures.ts'

// The in-app inbox, fed by the domain's events: rank messages from score changes (coalesced),
// results when a competition is final. No provider is configured here, so nothing is sent
// anywhere but the inbox.

const CONFIG = { ...LEADERBOARD_TEST_CONFIG, NOTIFY_TOP_N: 2 }

async function setScores (app: Awaited<ReturnType<typeof build>>, competitionId: string, scores: Record<string, number>): Promise<void> {
  for (const [userId, score] of Object.entries(scores)) {
    await app.pg.query('UPDATE participants SET score = $3 WHERE competition_id = $1 AND user_id = $2', [competitionId, userId, score])
  }
}

test('a climb tells the overtaken and the climber who entered the top, once per window', async (t) => {
  const app = await build(t, { config: CONFIG })
  const [a, b, c] = await seedUsers(app, 3)
  await app.pg.query('UPDATE users SET locale = \'es\' WHERE id = $1', [a])
  const competitionId = await seedCompetition(app, { name: 'Winter steps' })
  await seedParticipants(app, competitionId, [a!, b!, c!])
  await setScores(app, competitionId, { [a!]: 100, [b!]: 50, [c!]: 10 })

  t.equal((await updateScore(app, { competitionId, userId: c!, value: 200 })).statusCode, 200)
  await settled(app)
  const rank = await notificationsOf(app, 'category = \'rank\'')
  t.same(rank.map((n) => [n.user_id, n.template]).sort(), [[a, 'overtaken'], [b, 'overtaken'], [c, 'entered_top']].sort())
  t.equal(rank.find((n) => n.user_id === b)!.params.rank, 3, 'b is third now')
  t.equal(rank.find((n) => n.user_id === c)!.params.rank, 1)

  // Inside the window nobody hears about rank again in this competition.
  t.equal((await updateScore(app, { competitionId, userId: b!, value: 500 })).statusCode, 200)
  t.equal((await updateScore(app, { competitionId, userId: a!, value: 900 })).statusCode, 200)
  await settled(app)
  t.equal((await notificationsOf(app, 'category = \'rank\'')).length, 3, 'coalesced: still one rank message each')

  // Read in the reader's own language.
  const inbox = await app.inject({ url: `/api/v1/users/${a}/notifications`, headers: bearer({ sub: a! }) })
  t.equal(inbox.statusCode, 200)
  t.match(inbox.json().items[0], { template: 'overtaken', category: 'rank', title: 'Te han adelantado en Winter steps', competitionId, readAt: null, deliveries: [] })
  t.match(inbox.json().items[0].body, /Runner 3 te ha pasado. Ahora eres el n.º 2 con 100 points/)
  const english = await app.inject({ url: `/api/v1/users/${b}/notifications`, headers: bearer({ sub: b! }) })
  t.equal(english.json().items[0].body, 'Runner 3 passed you. You are now #3 with 50 points.')
})

test('a burst of score changes tells each participant at most once, and replaying every event tells nobody twice', async (t) => {
  const app = await build(t, { config: { ...CONFIG, NOTIFY_TOP_N: 5 } })
  const users = await seedUsers(app, 30)
  const competitionId = await seedCompetition(app)
  await seedParticipants(app, competitionId, users)
  let seed = 7
  const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  const updates = Array.from({ length: 300 }, (_, i) => ({ competitionId, userId: users[Math.floor(random() * users.length)]!, operation: 'increment', value: 1 + Math.floor(random() * 500), i }))
  for (let i = 0; i < updates.length; i += 30) {
    const statuses = await Promise.all(updates.slice(i, i + 30).map(async ({ i: _, ...u }) => (await updateScore(app, u)).statusCode))
    t.ok(statuses.every((s) => s === 200))
  }
  await settled(app)
  const rank = await notificationsOf(app, 'category = \'rank\' AND competition_id = $1', [competitionId])
  t.ok(rank.length > 0, `${rank.length} rank messages`)
  t.equal(new Set(rank.map((n) => n.user_id)).size, rank.length, 'no participant got two')

  // Every event handed over again, as if each job had been retried after a crash.
  await app.pg.query('UPDATE domain_events SET relayed_at = NULL')
  app.jobs.relay.wake()
  await settled(app)
  // Handled again against today's scores, an event may now concern someone it did not before;
  // nobody already told hears it again.
  const replayed = await notificationsOf(app, 'category = \'rank\'')
  t.equal(new Set(replayed.map((n) => n.user_id)).size, replayed.length, 'still no participant with two')
  t.same(replayed.slice(0, rank.length).map((n) => n.id), rank.map((n) => n.id), 'the first messages stand as they were')
})

test('final results tell everyone their rank; the inbox pages, counts and marks read', async (t) => {
  const app = await build(t, { config: CONFIG })
  const users = await seedUsers(app, 25)
  const competitionId = await seedCompetition(app, { name: 'Autumn', metric: 'distance_m' })
  await seedParticipants(app, competitionId, users)
  await setScores(app, competitionId, Object.fromEntries(users.map((u, i) => [u, (i + 1) * 1000])))
  await app.pg.query('UPDATE users SET units = \'imperial\' WHERE id = $1', [users[24]])
  await app.lifecycle.sweep(new Date(Date.now() + 3 * 86400_000))
  await settled(app)
  const final = await notificationsOf(app, 'template = \'final\'')
  t.equal(final.length, 25, 'one each')
  const last = users[24]!
  const headers = bearer({ sub: last })
  const page = await app.inject({ url: `/api/v1/users/${last}/notifications?limit=1`, headers })
  t.equal(page.statusCode, 200)
  t.equal(page.json().items[0].body, 'You finished #1 of 25 with 15.5 mi.', 'in miles for an imperial reader')

  // Enough notifications to page through: the final one plus seeded ones.
  await app.pg.query(`INSERT INTO notifications (user_id, cause, category, template, params, created_at)
    SELECT $1, 'test:' || n, 'security', 'flag_cleared', '{}', now() - n * interval '1 microsecond' FROM generate_series(1, 45) AS n`, [last])
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res: { json: () => any } = await app.inject({ url: `/api/v1/users/${last}/notifications?limit=20${cursor ? `&cursor=${cursor}` : ''}`, headers })
    seen.push(...res.json().items.map((i: { id: string }) => i.id))
    cursor = res.json().nextCursor
  } while (cursor !== null)
  t.equal(seen.length, 46)
  t.equal(new Set(seen).size, 46, 'every notification once, none skipped at a page boundary')

  t.same((await app.inject({ url: `/api/v1/users/${last}/notifications/unread-count`, headers })).json(), { unread: 46 })
  const read = await app.inject({ method: 'POST', url: `/api/v1/users/${last}/notifications/${seen[0]}/read`, headers })
  t.equal(read.statusCode, 200)
  t.ok(read.json().readAt)
  const again = await app.inject({ method: 'POST', url: `/api/v1/users/${last}/notifications/${seen[0]}/read`, headers })
  t.equal(again.json().readAt, read.json().readAt, 'reading again keeps the first time')
  t.same((await app.inject({ url: `/api/v1/users/${last}/notifications/unread-count`, headers })).json(), { unread: 45 })
  const unread = await app.inject({ url: `/api/v1/users/${last}/notifications?unread=true&limit=100`, headers })
  t.equal(unread.json().items.length, 45)

  const other = users[0]!
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/users/${other}/notifications/${seen[0]}/read`, headers: bearer({ sub: other }) })).statusCode, 404,
    'someone else\'s notification is not found')
  t.equal((await app.inject({ url: `/api/v1/users/${last}/notifications`, headers: bearer({ sub: other }) })).statusCode, 403)
  t.equal((await app.inject({ url: `/api/v1/users/${last}/notifications?cursor=bm9wZQ`, headers })).statusCode, 400, 'a forged cursor')
  t.same((await app.inject({ method: 'POST', url: `/api/v1/users/${last}/notifications/read-all`, headers })).json(), { updated: 45 })
  t.same((await app.inject({ url: `/api/v1/users/${last}/notifications/unread-count`, headers })).json(), { unread: 0 })
})
