import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, credit, hoursFromNow, signIn, TEST_CONFIG, type Person } from './fixtures.ts'

// Editing a competition: everything before the first join, the money until the first paid
// entry, times and capacity until the start, name and description until it is over.

const CONFIG = { ...TEST_CONFIG, RATE_LIMIT_MAX: 100000, COMPETITION_CREATORS: 'users' as const }

async function patch (app: FastifyInstance, who: Person, id: string, body: Record<string, unknown>) {
  return await app.inject({ method: 'PATCH', url: `/api/v1/competitions/${id}`, headers: who.headers, payload: body })
}

test('edits allowed and refused as the competition moves on', async (t) => {
  const app = await build(t, { config: CONFIG })
  const creator = await signIn(app)
  const [runner, stranger] = [await signIn(app), await signIn(app)]
  const admin = await signIn(app, { admin: true })
  const competition = await createCompetition(app, creator, { entryFee: 500, maxParticipants: 10 })
  const id = competition.id as string

  // Before anyone joined: anything, by its creator or an admin only.
  t.equal((await patch(app, stranger, id, { name: 'Mine now' })).statusCode, 403)
  const early = await patch(app, creator, id, {
    name: 'Morning miles',
    metric: 'distance_m',
    startsAt: hoursFromNow(2),
    endsAt: hoursFromNow(30),
    entryFee: 700,
    prizeSplit: { type: 'percent', places: [70, 30] },
    timeZone: 'europe/paris',
    visibility: 'private'
  })
  t.equal(early.statusCode, 200, early.body)
  t.match(early.json(), { name: 'Morning miles', metric: 'distance_m', entryFee: 700, prizeSplit: { places: [70, 30] }, timeZone: 'Europe/Paris', visibility: 'private' })
  t.equal((await patch(app, admin, id, { visibility: 'public', description: 'Run before work' })).statusCode, 200)

  // Bad values are 400 and change nothing.
  t.equal((await patch(app, creator, id, { endsAt: hoursFromNow(1) })).statusCode, 400, 'the end before the start')
  t.equal((await patch(app, creator, id, { startsAt: hoursFromNow(-2) })).statusCode, 400, 'a start in the past')
  t.equal((await patch(app, creator, id, { prizeSplit: { type: 'percent', places: [50] } })).statusCode, 400)
  t.equal((await patch(app, creator, id, {})).statusCode, 400, 'an empty change')
  t.match((await patch(app, creator, id, { status: 'active' })).json(), { statusCode: 400, details: [{ field: 'body.status', message: 'is not a known property' }] })

  // After the first paid join: the money and the metric are fixed; capacity not below who joined.
  await credit(app, admin, runner.id, 5000)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${id}/join`, headers: runner.headers })).statusCode, 200)
  for (const [field, value] of [['sponsorPrize', 1000], ['houseShareBps', 500], ['prizeSplit', { type: 'fixed', amounts: [100] }]] as const) {
    const refused = await patch(app, creator, id, { [field]: value })
    t.equal(refused.statusCode, 409, `${field} after a paid entry`)
    t.equal(refused.json().message, `${field} can only change before the first entry fee is paid`)
  }
  for (const [field, value] of [['metric', 'steps'], ['entryFee', 100], ['currency', 'EUR']] as const) {
    t.equal((await patch(app, creator, id, { [field]: value })).json().message, `${field} can only change before the first participant joins`)
  }
  t.match((await patch(app, creator, id, { maxParticipants: 0 })).json(), { statusCode: 400 }, 'capacity is at least 1')
  await credit(app, admin, stranger.id, 5000)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${id}/join`, headers: stranger.headers })).statusCode, 200)
  t.equal((await patch(app, creator, id, { maxParticipants: 1 })).json().message, 'maxParticipants cannot be below the 2 participants who joined')
  const roomier = await patch(app, creator, id, { maxParticipants: 3, startsAt: hoursFromNow(1), gracePeriodSeconds: 600 })
  t.equal(roomier.statusCode, 200, 'times and capacity until the start')
  t.match(roomier.json(), { maxParticipants: 3, participantCount: 2, gracePeriodSeconds: 600, entryFee: 700 })

  // The moved start has its lifecycle step at the new instant, and the change is an event.
  const startsAt = new Date(roomier.json().startsAt).getTime()
  const { rows: steps } = await app.pg.query('SELECT singleton_key FROM pgboss.job WHERE name = \'competitions.lifecycle\' AND data->>\'competitionId\' = $1', [id])
  t.ok(steps.some((s) => s.singleton_key === `${id}:scheduled:${startsAt}`), 'the start step is due at the new start')
  const { rows: events } = await app.pg.query('SELECT payload FROM domain_events WHERE type = \'competition.updated\' AND competition_id = $1 ORDER BY seq', [id])
  t.equal(events.length, 3)
  t.same([...events[2].payload.changed].sort(), ['gracePeriodSeconds', 'maxParticipants', 'startsAt'])
  t.equal(events[2].payload.startsAt, new Date(startsAt).toISOString())

  // Started: only name and description.
  await app.lifecycle.sweep(new Date(startsAt + 1000))
  t.equal((await patch(app, creator, id, { endsAt: hoursFromNow(40) })).json().message, 'endsAt can only change before the competition starts')
  t.equal((await patch(app, creator, id, { name: 'Morning miles (live)' })).statusCode, 200)

  // Over: nothing.
  const other = await createCompetition(app, creator)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${other.id}/cancel`, headers: admin.headers })).statusCode, 200)
  t.equal((await patch(app, creator, other.id, { name: 'Back again' })).json().message, 'name cannot change: the competition is over')
  t.equal((await patch(app, creator, '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', { name: 'Nowhere' })).statusCode, 404)

  // A free competition someone joined: the prizes may still change, the entry fee not.
  const free = await createCompetition(app, creator)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${free.id}/join`, headers: runner.headers })).statusCode, 200)
  t.match((await patch(app, creator, free.id, { sponsorPrize: 5000, prizeSplit: { type: 'fixed', amounts: [3000, 2000] } })).json(), { sponsorPrize: 5000, prizePool: 5000 })
  t.equal((await patch(app, creator, free.id, { entryFee: 100 })).statusCode, 409)
})
