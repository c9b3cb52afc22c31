import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.ts'
import { createCompetition, credit, signIn, TEST_CONFIG, type Person } from './competitions/fixtures.ts'
import { settled } from './notifications/fixtures.ts'

// Every list walks both ways through the API: from the last page back along prevCursor, the
// same items in the same order as the forward walk, ending on a page without a previous one.
// (services/shared/cursors.test.ts holds the paging rule itself to random lists.)

async function walk (app: FastifyInstance, who: Person, url: string, direction: 'next' | 'prev', first = url) {
  const ids: unknown[] = []
  let next: string = first
  for (let pages = 0; pages < 40; pages++) {
    const res = await app.inject({ url: next, headers: who.headers })
    if (res.statusCode !== 200) throw new Error(`${next}: ${res.statusCode} ${res.body}`)
    const page = res.json() as { items: Array<Record<string, unknown>>, nextCursor: string | null, prevCursor: string | null }
    const pageIds = page.items.map((item) => item.id ?? (item.competition as { id: string }).id)
    if (direction === 'next') ids.push(...pageIds)
    else ids.unshift(...pageIds)
    const cursor = page[`${direction}Cursor`]
    if (cursor === null) return { ids, page }
    next = `${url}${url.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`
  }
  throw new Error(`${url}: the walk did not end`)
}

test('every list walks back to the forward walk', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, RATE_LIMIT_MAX: 100000 } })
  const admin = await signIn(app, { admin: true })
  const runner = await signIn(app)
  // Seven of each: pages of three end with a short one.
  for (let i = 0; i < 7; i++) await credit(app, admin, runner.id, 1000 + i)
  const competitions: string[] = []
  for (let i = 0; i < 7; i++) {
    const competition = await createCompetition(app, admin, { name: `Walk ${i}`, visibility: i % 2 === 0 ? 'public' : 'private' })
    competitions.push(competition.id)
    await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/invites`, headers: admin.headers })
    const join = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: admin.headers, payload: { userId: runner.id } })
    t.equal(join.statusCode, 200)
  }
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitions[0]}/invites`, headers: admin.headers })
  for (let i = 0; i < 7; i++) {
    await app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload: { url: `https://93.184.215.14/hooks/${i}`, eventTypes: ['prize.paid'] } })
  }
  for (let i = 0; i < 7; i++) {
    const series = await app.inject({
      method: 'POST',
      url: '/api/v1/competition-series',
      headers: admin.headers,
      payload: { name: `Walk series ${i}`, metric: 'steps', schedule: { every: 'day', at: '06:00' }, timeZone: 'UTC', durationSeconds: 86400 }
    })
    t.equal(series.statusCode, 201)
  }
  await app.pg.query(`INSERT INTO notifications (user_id, cause, category, template, params)
    SELECT $1, 'walk-' || n, 'security', 'flag_cleared', '{}' FROM generate_series(1, 7) AS n`, [runner.id])
  // Two implausible records (600 steps a minute) raise two flags, one per sample.
  for (let i = 0; i < 2; i++) {
    const end = Date.now() - (i + 1) * 3_600_000
    await app.inject({
      method: 'POST',
      url: '/api/v1/fitness/sync',
      headers: runner.headers,
      payload: {
        source: 'healthkit',
        samples: [{ externalId: `sprint-${i}`, version: 1, metric: 'steps', kind: 'sample', startTime: new Date(end - 600_000).toISOString(), endTime: new Date(end).toISOString(), value: 6000, recordingMethod: 'automatic', tzOffsetMinutes: 0 }]
      }
    })
  }

  const lists: Array<[Person, string]> = [
    [runner, `/api/v1/users/${runner.id}/transactions?limit=3`],
    [runner, `/api/v1/users/${runner.id}/activity?limit=3`],
    [runner, `/api/v1/users/${runner.id}/competitions?limit=3`],
    [runner, `/api/v1/users/${runner.id}/notifications?limit=3`],
    [admin, '/api/v1/competitions?limit=3'],
    [admin, '/api/v1/competition-series?limit=3'],
    [admin, '/api/v1/webhooks?limit=3'],
    [admin, '/api/v1/admin/flags?limit=1'],
    [admin, `/api/v1/competitions/${competitions[0]}/invites?limit=1`]
  ]
  // The joins' notifications are made by jobs after their events are relayed: one arriving
  // between the forward walk and the walk back would be in one and not the other.
  await settled(app)
  for (const [who, url] of lists) {
    const forward = await walk(app, who, url, 'next')
    t.ok(forward.ids.length >= 2, `${url}: ${forward.ids.length} items over several pages`)
    t.equal(new Set(forward.ids).size, forward.ids.length, `${url}: each item once`)
    if (forward.page.prevCursor === null) {
      t.fail(`${url}: the last page has no previous page`)
      continue
    }
    const back = await walk(app, who, url, 'prev', `${url}&cursor=${encodeURIComponent(forward.page.prevCursor)}`)
    const lastIds = forward.page.items.map((item) => item.id ?? (item.competition as { id: string }).id)
    t.same([...back.ids, ...lastIds], forward.ids, `${url}: backward gives the same items in the same order`)
    t.equal(back.page.prevCursor, null, `${url}: the walk back ends on the first page`)
  }
})
