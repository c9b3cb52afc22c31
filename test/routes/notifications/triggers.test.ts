import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { startFakeFcm } from '../../fakes/fcm.ts'
import { admin, LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers } from '../leaderboard/fixtures.ts'
import { domainEvent, recordEvents, type NewDomainEvent } from '../../../services/shared/outbox.ts'
import { notificationsOf, sendsDone, settled } from './fixtures.ts'

// Every trigger, through the outbox, the relay and the notifications consumer, to a phone (the
// FCM fake): competition reminders and status changes, results, money and review outcomes.

async function rig (t: Parameters<typeof build>[0]) {
  const fcm = await startFakeFcm()
  t.teardown(fcm.close)
  const app = await build(t, {
    config: {
      ...LEADERBOARD_TEST_CONFIG,
      FCM_PROJECT_ID: fcm.projectId,
      FCM_CLIENT_EMAIL: fcm.clientEmail,
      FCM_PRIVATE_KEY: fcm.privateKey,
      FCM_API_URL: fcm.url,
      FCM_TOKEN_URL: fcm.tokenUrl
    }
  })
  const users = await seedUsers(app, 4)
  await app.pg.query(`INSERT INTO push_devices (user_id, provider, token, platform, app_version)
    SELECT u, 'fcm', 'fcm-' || u, 'ios', '3.1.0' FROM unnest($1::uuid[]) AS u`, [users])
  // The phone's messages for a template, by user.
  const received = (template: string) => new Map(fcm.sent.filter((m) => m.data.template === template).map((m) => [m.token.slice(4), m]))
  const done = async () => { await settled(app); await sendsDone(app) }
  return { app, fcm, users, received, done }
}

async function record (app: FastifyInstance, events: NewDomainEvent[]): Promise<void> {
  await app.pg.transact(async (tx) => { await recordEvents(tx, events) })
}

test('starting soon, started, ending soon, ended or sync now, final', async (t) => {
  const { app, users, received, done } = await rig(t)
  const competitionId = await seedCompetition(app, { name: 'Relay', status: 'scheduled' })
  await app.pg.query(`UPDATE competitions SET starts_at = now() + interval '30 minutes', ends_at = now() + interval '50 minutes',
    grace_period_seconds = 3600 WHERE id = $1`, [competitionId])
  await seedParticipants(app, competitionId, users, { emit: false })
  const { rows: [c] } = await app.pg.query('SELECT starts_at, ends_at FROM competitions WHERE id = $1', [competitionId])

  // Created 30 minutes before its start: the reminder (60 minutes ahead) is due at once.
  await record(app, [domainEvent('competition.created', {
    competitionId, name: 'Relay', metric: 'custom', startsAt: c.starts_at.toISOString(), endsAt: c.ends_at.toISOString(), visibility: 'public', createdBy: null
  })])
  await done()
  t.equal(received('starting_soon').size, 4, 'starting soon, to everyone')
  t.match(received('starting_soon').get(users[0]!)!.title, 'Relay starts soon')

  await app.pg.query('UPDATE participants SET score = 10 * ord FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, ord) WHERE competition_id = $1 AND user_id = u.id', [competitionId, users])
  await app.lifecycle.sweep(new Date(c.starts_at.getTime() + 1000))
  await done()
  t.equal(received('started').size, 4, 'started')
  t.equal(received('ending_soon').size, 4, 'ending soon: its reminder is due at once too')
  t.match(received('ending_soon').get(users[3]!)!.body, 'You are #1 with 40 points')

  // One participant's data arrives after the end (the clock here is the sweep's); the others are asked to sync.
  await app.pg.query(`INSERT INTO fitness_samples (user_id, source, external_id, metric, start_at, end_at, value, local_day, received_at)
    VALUES ($1, 'healthkit', 'late', 'steps', $2::timestamptz, $2::timestamptz, 100, ($2::timestamptz)::date, $3)`,
  [users[0], new Date(c.ends_at.getTime() - 600_000), new Date(c.ends_at.getTime() + 5000)])
  await app.lifecycle.sweep(new Date(c.ends_at.getTime() + 1000))
  await done()
  const sync = received('sync_reminder')
  const ended = received('ended')
  t.same([...ended.keys()], [users[0]], 'everyone hears the end once')
  t.match(sync.get(users[1]!)!.title, 'Sync now for Relay')

  await app.lifecycle.sweep(new Date(c.ends_at.getTime() + 3601_000))
  await done()
  t.equal(received('final').size, 4)
  t.match(received('final').get(users[3]!)!.body, 'You finished #1 of 4 with 40 points.')
  t.equal(received('final').get(users[0]!)!.body, 'You finished #4 of 4 with 10 points.')
})

test('a participant with data since the end is not asked to sync', async (t) => {
  const { app, users, received, done } = await rig(t)
  const competitionId = await seedCompetition(app, { name: 'Late' })
  await app.pg.query('UPDATE competitions SET ends_at = now() - interval \'1 minute\', grace_period_seconds = 3600 WHERE id = $1', [competitionId])
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.pg.query(`INSERT INTO fitness_samples (user_id, source, external_id, metric, start_at, end_at, value, local_day)
    VALUES ($1, 'healthkit', 'late', 'steps', now() - interval '10 minutes', now() - interval '5 minutes', 100, current_date)`, [users[0]])
  await app.lifecycle.sweep(new Date())
  await done()
  t.same([...received('ended').keys()], [users[0]], 'synced since the end: told it ended')
  t.same([...received('sync_reminder').keys()].sort(), users.slice(1).sort(), 'the rest: sync now')
})

test('a cancelled competition tells its participants', async (t) => {
  const { app, users, received, done } = await rig(t)
  const competitionId = await seedCompetition(app, { name: 'Off', status: 'scheduled' })
  await app.pg.query('UPDATE competitions SET starts_at = now() + interval \'1 day\', ends_at = now() + interval \'2 days\' WHERE id = $1', [competitionId])
  await seedParticipants(app, competitionId, users.slice(0, 2), { emit: false })
  const res = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/cancel`, headers: admin })
  t.equal(res.statusCode, 200, res.body)
  await done()
  t.same([...received('cancelled').keys()].sort(), users.slice(0, 2).sort())
  t.match(received('cancelled').get(users[0]!)!.title, 'Off was cancelled')
})

test('money and review outcomes reach the one user they concern, as high priority', async (t) => {
  const { app, users, received, done } = await rig(t)
  const [ada, bob] = users as [string, string]
  const competitionId = await seedCompetition(app, { name: 'Cup' })
  await record(app, [
    domainEvent('prize.paid', { competitionId, userId: ada, amount: 2500, currency: 'USD', rank: 1 }),
    domainEvent('deposit.succeeded', { depositId: randomUUID(), userId: ada, amount: 1000, currency: 'EUR' }),
    domainEvent('deposit.failed', { depositId: randomUUID(), userId: bob, amount: 1500, currency: 'USD', reason: 'card_declined' }),
    domainEvent('withdrawal.paid', { withdrawalId: randomUUID(), userId: ada, amount: 5000, currency: 'JPY' }),
    domainEvent('withdrawal.failed', { withdrawalId: randomUUID(), userId: bob, amount: 700, currency: 'USD', status: 'rejected', reason: 'rejected' }),
    domainEvent('flag.raised', { flagId: 1, userId: bob, reason: 'steps_rate', competitionIds: [competitionId] }),
    domainEvent('flag.cleared', { flagId: 1, userId: bob, competitionIds: [competitionId] })
  ])
  await done()
  t.equal(received('prize_paid').get(ada)!.body, '$25.00 for finishing #1 in Cup is in your wallet.')
  t.equal(received('deposit_succeeded').get(ada)!.body, '€10.00 was added to your wallet.')
  t.match(received('deposit_failed').get(bob)!.body, '$15.00 did not go through (card_declined)')
  t.equal(received('withdrawal_paid').get(ada)!.body, '¥5,000 is on its way to your bank account.')
  t.equal(received('withdrawal_failed').get(bob)!.title, 'Withdrawal rejected')
  t.match(received('flag_raised').get(bob)!.body, 'steps_rate')
  t.ok(received('flag_cleared').has(bob))
  t.equal(received('prize_paid').get(ada)!.androidPriority, 'HIGH')
  t.equal(received('prize_paid').get(ada)!.apnsPriority, '10')
  t.equal((await notificationsOf(app, 'category IN (\'money\', \'security\')')).length, 7, 'one notification per event')
})
