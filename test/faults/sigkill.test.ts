import { test } from 'tap'
import { build, createDataDir, TEST_JWT_SECRET } from '../helper.ts'
import { startServerProcess } from '../processes.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, listen, liveClient, seedCompetition, seedParticipants, seedUsers, updateScore
} from '../routes/leaderboard/fixtures.ts'

// An instance is killed with SIGKILL (no shutdown code runs) while WebSocket clients are
// connected to it. They reconnect to another instance with the last seq they saw and resume
// exactly after it: the missed frames replayed in order, no gap, no duplicate, then live.

test('clients of a SIGKILLed instance resume on another one from their last seq', async (t) => {
  // B runs in this process; A is a real server process sharing its Postgres and Redis prefix.
  const b = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const urlB = await listen(b)
  const dataDir = await createDataDir(t)
  const a = await startServerProcess(t, {
    DATABASE_URL: b.config.DATABASE_URL,
    REDIS_URL: b.config.REDIS_URL,
    REDIS_KEY_PREFIX: b.redisPrefix,
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_MAX: '1000000',
    LIFECYCLE_JOBS: 'false',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    REALTIME_TICK_MS: String(LEADERBOARD_TEST_CONFIG.REALTIME_TICK_MS),
    DATA_DIR: dataDir
  })

  const competitionId = await seedCompetition(b)
  const users = await seedUsers(b, 4)
  await seedParticipants(b, competitionId, users)

  const watchers = await Promise.all(users.slice(0, 3).map(async (userId) => await liveClient(a.base, competitionId, { userId })))
  for (const w of watchers) await w.next((f) => f.type === 'snapshot')
  for (const value of [5, 6, 7]) {
    t.equal((await updateScore(b, { competitionId, userId: users[3]!, value })).statusCode, 200)
  }
  for (const w of watchers) await w.next((f) => f.type === 'update' && f.entries.some((e: any) => e.score === 7))
  const lastSeqs = watchers.map((w) => Math.max(...w.frames.filter((f) => typeof f.seq === 'number').map((f) => f.seq)))

  a.child.kill('SIGKILL')
  t.same(await a.exited, { code: null, signal: 'SIGKILL' }, 'instance A is gone without any shutdown')
  const closes = await Promise.all(watchers.map(async (w) => await w.closed))
  t.ok(closes.every((c) => c.code === 1006), 'clients see an abnormal close (no close frame)')

  // Updates while the clients are away, through the surviving instance.
  for (const value of [8, 9]) await updateScore(b, { competitionId, userId: users[3]!, value })
  await updateScore(b, { competitionId, userId: users[2]!, value: 3 })
  const missed = await eventually(async () => {
    const frames = (await b.leaderboard.feed.framesSince(competitionId, lastSeqs[0]!))?.map((f) => JSON.parse(f))
    return frames?.some((f) => f.entries?.some((e: any) => e.userId === users[2] && e.score === 3)) ? frames : undefined
  }, 5000, 'missed frames buffered')
  t.ok(missed.length >= 1, `${missed.length} frames missed while away (updates are coalesced per tick)`)

  const clients = await Promise.all(users.slice(0, 3).map(async (userId, i) => {
    const client = await liveClient(urlB, competitionId, { userId, query: `&seq=${lastSeqs[i]!}` })
    t.teardown(() => client.close())
    return client
  }))
  for (const [i, client] of clients.entries()) {
    const from = lastSeqs[i]!
    const resumed = await client.next((f) => f.type === 'resumed')
    t.equal(client.frames[0], resumed, 'no snapshot: a resume')
    t.match(resumed, { fromSeq: from, seq: from + missed.length })
    const replayed = []
    for (let k = 0; k < missed.length; k++) replayed.push(await client.next((f) => f.type === 'update'))
    t.same(replayed.map((f: any) => f.seq), missed.map((_, k) => from + 1 + k), 'the missed frames, in order, without a gap')
    const last = new Map(replayed.flatMap((f: any) => f.entries.map((e: any) => [e.userId, e.score])))
    t.same([last.get(users[3]), last.get(users[2])], [9, 3], 'ending at the current scores')
  }

  // And live after that, continuing the same sequence.
  await updateScore(b, { competitionId, userId: users[3]!, value: 20 })
  for (const [i, client] of clients.entries()) {
    const live = await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.score === 20))
    t.equal(live.seq, lastSeqs[i]! + missed.length + 1, 'then live updates continue the same sequence')
  }
})
