import { test } from 'tap'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { build } from '../../helper.ts'
import { eventually, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, seedCompetition, seedParticipants, seedUsers } from '../leaderboard/fixtures.ts'

// Clients that stop reading while scores change, over real sockets: each is dropped once its
// unsent data would pass REALTIME_MAX_BUFFERED_BYTES, never holding more than that here, and
// its connection is gone with everything queued for it; a client that reads keeps its feed.

const LIMIT = 65536
const PAUSED = 5

function rawOf (socket: WebSocket): Socket {
  return (socket as unknown as { _socket: Socket })._socket
}

test('paused sockets are dropped at the limit while scores change; their queues are freed, the reading one keeps its frames', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, REALTIME_TICK_MS: 10, REALTIME_MAX_BUFFERED_BYTES: LIMIT } })
  const url = await listen(app)
  const competitionId = await seedCompetition(app)
  // Long names: update frames of about 25 KB, so the connections fill in a few hundred ticks.
  const users = await seedUsers(app, 100, 'Runner'.padEnd(55, '.'))
  await seedParticipants(app, competitionId, users)
  await eventually(async () => (await leaderboard(app, competitionId, users[0]!)).body.degraded === false, 5000, 'projection ready')

  const healthy = await liveClient(url, competitionId, { userId: users[0], query: '&limit=100' })
  const paused = []
  for (let i = 1; i <= PAUSED; i++) paused.push(await liveClient(url, competitionId, { userId: users[i], query: '&limit=100' }))
  for (const client of [healthy, ...paused]) await client.next((f) => f.type === 'snapshot')
  const serverSockets = [...app.websocketServer.clients]
  t.equal(serverSockets.length, PAUSED + 1)
  for (const client of paused) rawOf(client.socket).pause()

  // What the server holds for each socket, read between its sends.
  let mostUnsent = 0
  const sample = setInterval(() => { for (const s of serverSockets) mostUnsent = Math.max(mostUnsent, s.bufferedAmount) }, 1)
  t.teardown(() => clearInterval(sample))
  let round = 0
  while (app.broadcaster.stats().clients > 1) {
    round++
    // Everyone's score moves: every client gets a frame with its own rank each tick.
    await app.leaderboard.applyScores(users.map((userId, i) => ({ competitionId, userId, operation: 'sync' as const, value: 1000 + ((i * 37 + round * 11) % 1000), idempotencyKey: `${round}-${i}` })))
    await new Promise((resolve) => setTimeout(resolve, 10))
    if (round > 3000) throw new Error('the paused clients were never dropped')
  }
  clearInterval(sample)
  t.comment(`dropped after ${round} rounds; most unsent bytes held for one socket: ${mostUnsent}`)
  t.ok(mostUnsent <= LIMIT, `never more than the limit unsent for one socket (${mostUnsent} <= ${LIMIT})`)
  t.match((await app.inject({ url: '/metrics' })).body, new RegExp(`realtime_slow_consumers_total ${PAUSED}\\b`), 'each counted as a slow consumer')

  // The clients do not read: their connections are reset, freeing what was queued for them.
  await eventually(async () => app.websocketServer.clients.size === 1, 5000, 'the dropped sockets closed on the server')
  for (const s of serverSockets.filter((s) => s !== [...app.websocketServer.clients][0])) {
    t.equal(s.bufferedAmount, 0, 'nothing left queued for a dropped socket')
    t.ok(rawOf(s).destroyed, 'its connection is gone')
  }

  // Reading again, a dropped client learns its connection was reset (no stale backlog first).
  const before = paused.map((client) => client.frames.length)
  for (const client of paused) rawOf(client.socket).resume()
  for (const [i, client] of paused.entries()) {
    const closed = await client.closed
    t.equal(closed.code, 1006, 'an abnormal closure: reconnect and resume with seq')
    const stale = closed.framesBeforeClose - before[i]!
    t.ok(stale < round / 4, `the backlog was discarded, not delivered late (${stale} frames read after resuming, ${round} rounds)`)
  }

  // The reading client kept its feed, and still gets what changes next.
  t.equal(healthy.socket.readyState, 1)
  const seen = healthy.frames.filter((f) => f.type === 'update')
  t.ok(seen.length >= round / 4, `the reading client received frames throughout (${seen.length} for ${round} rounds)`)
  await app.leaderboard.applyScores([{ competitionId, userId: users[99]!, operation: 'sync', value: 5000, idempotencyKey: 'last' }])
  t.match(await healthy.next((f) => f.type === 'update' && f.entries.some((e: any) => e.score === 5000)), { type: 'update' })
  await healthy.close()
})

test('a dropped client that reads again within the grace gets the slow-consumer close code', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, REALTIME_TICK_MS: 10, REALTIME_MAX_BUFFERED_BYTES: LIMIT } })
  const url = await listen(app)
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 100, 'Runner'.padEnd(55, '.'))
  await seedParticipants(app, competitionId, users)
  await eventually(async () => (await leaderboard(app, competitionId, users[0]!)).body.degraded === false, 5000, 'projection ready')
  const slow = await liveClient(url, competitionId, { userId: users[0], query: '&limit=100' })
  await slow.next((f) => f.type === 'snapshot')
  rawOf(slow.socket).pause()
  let round = 0
  while (app.broadcaster.stats().clients > 0) {
    round++
    await app.leaderboard.applyScores(users.map((userId, i) => ({ competitionId, userId, operation: 'sync' as const, value: 1000 + ((i * 37 + round * 11) % 1000), idempotencyKey: `${round}-${i}` })))
    await new Promise((resolve) => setTimeout(resolve, 10))
    if (round > 3000) throw new Error('the paused client was never dropped')
  }
  rawOf(slow.socket).resume()
  t.match(await slow.closed, { code: 4008, reason: 'Too slow: messages were piling up' })
})
