import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import {
  eventually, flushPrefix, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, seedCompetition, seedParticipants, updateScore, type LiveClient
} from '../leaderboard/fixtures.ts'
import { viewOf } from './live-view.ts'
import { ServerFrameSchema, ServerFrameSchemas, type ServerFrameType } from '../../../schemas/realtime.ts'
import { LeaderboardSchema } from '../../../schemas/leaderboard.ts'
import { avatarUrl, displayName, faults, prng, score, seedOf, type Random } from '../../wire-schemas.ts'

// End to end: a generated competition on the real Postgres and Redis, live clients with
// different windows, generated score changes, joins and leaves; every frame received and every
// hand-built leaderboard page (first pages, cursor pages, around=me, the Postgres fallback) is
// checked against its schema, and every server frame type must have been seen.

async function seedUsers (app: FastifyInstance, random: Random, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID())
  // Postgres text holds no NUL and display names are at most 64 characters.
  const names = ids.map(() => [...(displayName(random) ?? '').replaceAll('\u0000', '')].slice(0, 64).join(''))
  const avatars = ids.map(() => avatarUrl(random))
  await app.pg.query('INSERT INTO users (id, display_name, avatar_url) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])', [ids, names, avatars])
  return ids
}

interface Checked { counts: Record<string, number>, problems: string[] }

function check (checked: Checked, schema: unknown, body: unknown, what: string): void {
  const found = faults(schema, body)
  checked.counts[what] = (checked.counts[what] ?? 0) + 1
  if (found.length > 0 && checked.problems.length < 20) checked.problems.push(`${what}: ${JSON.stringify(found).slice(0, 800)} in ${JSON.stringify(body).slice(0, 800)}`)
}

function checkFrames (checked: Checked, clients: LiveClient[]): void {
  for (const client of clients) {
    for (const frame of client.frames) {
      const schema = ServerFrameSchemas[frame?.type as ServerFrameType]
      if (!schema) { checked.problems.push(`unknown frame type: ${JSON.stringify(frame).slice(0, 300)}`); continue }
      check(checked, schema, frame, `frame:${frame.type}`)
      check(checked, ServerFrameSchema, frame, 'frame (union)')
      if (frame.type === 'update' && frame.me) checked.counts['frame:update with me'] = (checked.counts['frame:update with me'] ?? 0) + 1
      if (frame.type === 'update' && frame.removed.length > 0) checked.counts['frame:update with removed'] = (checked.counts['frame:update with removed'] ?? 0) + 1
    }
  }
}

// Every page of the board for one viewer, then around=me: each body checked.
// `before` runs before each request (the Postgres phase drops the projection each time).
async function checkPages (app: FastifyInstance, checked: Checked, random: Random, competitionId: string, viewer: string, total: number, before?: () => Promise<unknown>, limit = random.pick([1, 3, 7, 50])): Promise<void> {
  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    await before?.()
    const res = await leaderboard(app, competitionId, viewer, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    if (res.statusCode !== 200) { checked.problems.push(`page ${res.statusCode}: ${JSON.stringify(res.body)}`); return }
    check(checked, LeaderboardSchema, res.body, `page:${res.body.degraded ? 'postgres' : 'redis'}:${cursor ? 'cursor' : 'first'}`)
    seen.push(...res.body.entries.map((e: any) => e.position))
    cursor = res.body.nextCursor
  } while (cursor !== null && ++pages < 100)
  if (seen.join() !== Array.from({ length: total }, (_, i) => i + 1).join()) checked.problems.push(`pages of ${limit} gave positions ${seen.join()} for ${total}`)
  await before?.()
  const around = await leaderboard(app, competitionId, viewer, `?around=me&k=${random.int(0, 4)}&limit=${random.int(1, 5)}`)
  check(checked, LeaderboardSchema, around.body, `page:${around.body.degraded ? 'postgres' : 'redis'}:around=me`)
}

test('every live frame and leaderboard page over generated competitions matches its schema', async (t) => {
  const seed = seedOf()
  t.comment(`seed ${seed} (TEST_SEED=${seed} replays it)`)
  const random = prng(seed)
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const url = await listen(app)
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, random, random.int(6, 24))
  await seedParticipants(app, competitionId, users)
  await eventually(async () => (await leaderboard(app, competitionId, users[0]!)).body.degraded === false, 5000, 'projection ready')
  const scores = new Map(users.map((id) => [id, 0]))
  const checked: Checked = { counts: {}, problems: [] }

  // A watcher of the whole board: its view shows when the server has framed every change.
  const sentinel = await liveClient(url, competitionId, { userId: users[0], query: '&limit=100&k=2' })
  const clients = [sentinel]
  for (let i = 0; i < 5; i++) {
    const userId = random.chance(0.8) ? random.pick(users) : randomUUID()
    clients.push(await liveClient(url, competitionId, { userId, query: `&limit=${random.pick([1, 2, 3, 5, 100])}&k=${random.int(0, 5)}` }))
  }
  // Its own rank moves below an unchanged top 1: rank frames.
  const [leader, watcher, climber] = users
  const deep = await liveClient(url, competitionId, { userId: watcher, query: '&limit=1&k=1' })
  clients.push(deep)
  t.teardown(async () => { for (const c of clients) await c.close() })
  for (const c of clients) await c.next((f) => f.type === 'snapshot')

  async function settled (): Promise<void> {
    const expected = [...scores].map(([id, s]) => `${id}:${s}`).sort().join()
    const viewed = () => viewOf(sentinel.frames, 100).top.map(([id, s]) => `${id}:${s}`).sort().join()
    // Already there when the last changes changed nothing (a score set to itself).
    if (viewed() === expected) return
    await sentinel.next(() => viewed() === expected, 5000).catch((err) => { throw new Error(`expected ${expected}\nviewed   ${viewed()}\n${sentinel.frames.slice(-3).map((f) => JSON.stringify(f)).join('\n')}`, { cause: err }) })
  }
  // Gone from Postgres and the projection, as the leave route does.
  async function leave (userId: string): Promise<void> {
    await app.pg.query('DELETE FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
    await app.pg.query('UPDATE competitions SET participant_count = participant_count - 1 WHERE id = $1', [competitionId])
    await app.leaderboard.reconcileParticipant({ competitionId, userId })
    scores.delete(userId)
  }
  async function set (userId: string, value: number): Promise<void> {
    const res = await updateScore(app, { competitionId, userId, value })
    if (res.statusCode !== 200) throw new Error(`score update: ${res.statusCode} ${res.body}`)
    scores.set(userId, value)
  }

  for (let round = 0; round < 6; round++) {
    for (let i = random.int(1, 8); i > 0; i--) {
      const r = random.next()
      const movable = [...scores.keys()].filter((id) => id !== leader && id !== watcher && id !== climber)
      if (r < 0.1) {
        const [joined] = await seedUsers(app, random, 1)
        await seedParticipants(app, competitionId, [joined!])
        scores.set(joined!, 0)
      } else if (r < 0.2 && movable.length > 2) {
        await leave(random.pick(movable))
      } else {
        const userId = random.pick([...scores.keys()])
        await set(userId, random.chance(0.3) ? random.pick([...scores.values()]) : score(random))
      }
    }
    await settled()
    // Pages in every other round: each page is a request, and cursor pages of 1 are many.
    if (round % 2 === 1) {
      await checkPages(app, checked, random, competitionId, random.pick([...scores.keys()]), scores.size)
      await checkPages(app, checked, random, competitionId, randomUUID(), scores.size)
    }
  }

  // The climber passes the watcher while the leader stays first: the watcher's window (top 1)
  // is unchanged and only its own rank moved.
  await set(leader!, Number.MAX_SAFE_INTEGER)
  await set(watcher!, 10)
  await set(climber!, 5)
  await settled()
  await set(climber!, 20)
  await settled()
  await deep.next((f) => f.type === 'rank' && f.rank !== null && f.previousRank !== null && f.rank === f.previousRank + 1)
  // And one leaves (the random rounds may have had none): `removed` in the sentinel's update.
  await leave([...scores.keys()].find((id) => id !== leader && id !== watcher && id !== climber)!)
  await settled()

  // Resumes: on a new socket from a seq the buffer holds, on an open socket, and from a seq
  // that is gone (a fresh snapshot).
  const last = viewOf(sentinel.frames, 100).seq!
  await sentinel.close()
  await set(climber!, 21)
  await set(leader!, Number.MAX_SAFE_INTEGER - 1)
  const back = await liveClient(url, competitionId, { userId: users[0], query: `&seq=${last}&limit=100` })
  clients.push(back)
  const resumed = await back.next((f) => f.type === 'resumed')
  await back.next((f) => f.type === 'update' && f.seq === resumed.seq)
  const open = clients[1]!
  // Every client is at the resumed seq now (frames are handed out in order): nothing to replay.
  open.send({ type: 'resume', seq: resumed.seq })
  await open.next((f) => f.type === 'resumed')
  open.send({ type: 'resume', seq: 1 })
  await open.next((f) => f.type === 'snapshot')
  open.send('nonsense')
  open.send({ type: 'resume', seq: -1 })
  await open.next((f) => f.type === 'error')
  await open.next((f) => f.type === 'error')

  // A ping on every open socket: its pong comes after every frame sent before it.
  for (const c of clients.filter((c) => c.socket.readyState === c.socket.OPEN)) {
    c.send({ type: 'ping' })
    await c.next((f) => f.type === 'pong')
  }
  checkFrames(checked, clients)
  for (const c of clients) await c.close()

  // Redis loses the projection: pages come from Postgres (degraded), hand-built the same way.
  const lose = async () => await flushPrefix(app)
  await checkPages(app, checked, random, competitionId, random.pick([...scores.keys()]), scores.size, lose, 2)
  await checkPages(app, checked, random, competitionId, randomUUID(), scores.size, lose)

  t.comment(JSON.stringify(checked.counts))
  t.same(checked.problems, [], 'every frame and page matches its schema')
  // Notification frames come when a rank message is due (test/routes/notifications/live.test.ts
  // checks them); any seen here are checked too.
  for (const type of Object.keys(ServerFrameSchemas).filter((type) => type !== 'notification')) {
    t.ok(checked.counts[`frame:${type}`], `frames of type ${type} were seen and checked`)
  }
  for (const what of ['frame:update with me', 'frame:update with removed', 'page:redis:first', 'page:redis:around=me', 'page:postgres:first', 'page:postgres:around=me']) {
    t.ok(checked.counts[what], `${what} seen`)
  }
  t.ok(Object.keys(checked.counts).some((k) => k.endsWith(':cursor')), 'cursor pages seen')
})
