import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../../helper.ts'
import { signIn } from '../competitions/fixtures.ts'
import { eventually, HOUR, sample, syncOk } from '../fitness/fixtures.ts'
import { startFitbitFake } from '../../fakes/fitbit.ts'
import { ARCHIVE_SECTIONS } from '../../../schemas/leaving.ts'
import { leavingConfig, seedAccount } from './leaving-fixtures.ts'

// Sections the seeded account fills through the API; the rest need states a test cannot
// reach through it (a dispute, a payout account at the gateway, an admin's webhook endpoint).
const SEEDED = ['participations', 'scoreEvents', 'fitnessSamples', 'dailyTotals', 'activity', 'walletAccounts', 'ledgerEntries',
  'devices', 'notificationPreferences', 'notificationSettings', 'connections', 'events', 'invitesCreated', 'competitionsCreated', 'seriesSubscriptions', 'exports']

test('account export', async (t) => {
  const fitbit = await startFitbitFake({ clientId: 'leaving', clientSecret: 'leaving-secret', accountId: 'EXPORT01' })
  t.teardown(fitbit.close)
  const app = await build(t, { config: { ...leavingConfig(fitbit), COMPETITION_CREATORS: 'users', ACCOUNT_EXPORT_SYNC_MAX_ROWS: 200 } })
  const admin = await signIn(app, { admin: true })
  const seeded = await seedAccount(app, { admin, fitbit, tag: 'Ottoline' })
  const { person, personal } = seeded
  const me = person.headers

  // What the seed leaves out: a competition and an invite the person made, an inbox message, a past export.
  const own = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: me, payload: { name: 'Ottoline\'s walk', metric: 'steps', visibility: 'private', startsAt: new Date(Date.now() + HOUR).toISOString(), endsAt: new Date(Date.now() + 25 * HOUR).toISOString() } })
  t.equal(own.statusCode, 201, own.body)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${own.json().id}/invites`, headers: me, payload: {} })).statusCode, 201)
  const series = await app.inject({ method: 'POST', url: '/api/v1/competition-series', headers: admin.headers, payload: { name: 'Daily steps', metric: 'steps', schedule: { every: 'day', at: '06:00' }, timeZone: 'UTC', durationSeconds: 86400 } })
  t.equal(series.statusCode, 201, series.body)
  const subscribed = await app.inject({ method: 'PUT', url: `/api/v1/competition-series/${series.json().id}/subscription`, headers: me, payload: {} })
  t.ok(subscribed.statusCode < 300, subscribed.body)
  await app.pg.query('INSERT INTO notifications (user_id, cause, category, template, params) VALUES ($1, \'export-test\', \'security\', \'flag_cleared\', \'{}\')', [person.id])
  const first = await app.inject({ method: 'POST', url: '/api/v1/me/exports', headers: me })
  t.equal(first.statusCode, 202, first.body)

  await t.test('at once: everything the service holds, without credentials', async (t) => {
    const res = await app.inject({ url: '/api/v1/me/export', headers: me })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.headers['content-disposition'], /attachment/)
    const archive = res.json()
    t.match(archive, { format: 'account-archive/1', userId: person.id, profile: { id: person.id, email: personal.email, display_name: personal.displayName, username: personal.username, phone_number: personal.phone, bio: personal.bio } })
    t.same(Object.keys(archive.sections).sort(), [...ARCHIVE_SECTIONS].sort(), 'every section is there')
    for (const name of SEEDED) t.ok(archive.sections[name].length > 0, `${name} holds the person's records`)
    t.ok(archive.sections.notifications.some((n: { cause: string }) => n.cause === 'export-test'), 'the inbox')
    t.match(archive.sections.participations, [{ competition_id: seeded.competitionId, score: String }])
    t.equal(archive.sections.fitnessSamples.filter((r: { source: string }) => r.source === 'healthkit').length, 2, 'both synced samples')
    t.match(archive.sections.ledgerEntries, [{ amount: '700', transaction_kind: 'credit' }])
    t.match(archive.sections.devices, [{ provider: 'fcm', platform: 'android', token_ends_with: personal.deviceToken.slice(-4) }])
    t.match(archive.sections.connections, [{ provider: 'fitbit', external_user_id: 'EXPORT01' }])

    const text = res.body
    t.notOk(text.includes(personal.deviceToken), 'no push token')
    const { rows: [tokens] } = await app.pg.query('SELECT access_token, refresh_token FROM provider_connections WHERE user_id = $1', [person.id])
    t.notOk(text.includes(tokens.access_token) || text.includes(tokens.refresh_token), 'no provider token, sealed or not')
    t.notOk(/access_token|refresh_token|"secret"/.test(text), 'no credential columns')
  })

  await t.test('as a job: asked for, built, collected by its owner only', async (t) => {
    const pending = first.json()
    t.match(pending, { id: String, status: 'pending', archive: null, expiresAt: String })
    const again = await app.inject({ method: 'POST', url: '/api/v1/me/exports', headers: me })
    const ready: any = await eventually(async () => {
      const res = await app.inject({ url: `/api/v1/me/exports/${pending.id}`, headers: me })
      return res.json().status === 'ready' ? res.json() : undefined
    }, 15_000)
    t.ok(again.json().id === pending.id || again.json().status === 'pending', 'asking again while one is built returns it')
    t.match(ready, { id: pending.id, status: 'ready', bytes: Number, completedAt: String, archive: { format: 'account-archive/1', userId: person.id, profile: { email: personal.email } } })
    t.equal(ready.archive.sections.fitnessSamples.filter((r: { source: string }) => r.source === 'healthkit').length, 2)

    const stranger = await signIn(app)
    t.equal((await app.inject({ url: `/api/v1/me/exports/${pending.id}`, headers: stranger.headers })).statusCode, 404, 'another user cannot collect it')
    t.equal((await app.inject({ url: `/api/v1/me/exports/${randomUUID()}`, headers: me })).statusCode, 404)
  })

  await t.test('an account past the limit is exported by a job', async (t) => {
    for (let batch = 0; batch < 4; batch++) {
      const samples = Array.from({ length: 50 }, (_, i) => sample({ start: Date.now() - 20 * HOUR + (batch * 50 + i) * 5 * 60_000, minutes: 2, value: 10 }))
      await syncOk(app, person, { source: 'health_connect', samples })
    }
    const res = await app.inject({ url: '/api/v1/me/export', headers: me })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { code: 'CONFLICT', message: /POST \/api\/v1\/me\/exports/ })
  })

  await t.test('archives past their time are deleted by the daily sweep', async (t) => {
    const { rows: [old] } = await app.pg.query(`INSERT INTO account_exports (user_id, expires_at, status, archive) VALUES ($1, now() - interval '1 second', 'ready', '{}')
      RETURNING id`, [person.id])
    const kept = (await app.pg.query('SELECT count(*)::int AS n FROM account_exports WHERE expires_at > now()')).rows[0].n
    t.ok(await app.accountExports.sweepExpired() >= 1)
    t.equal((await app.pg.query('SELECT count(*)::int AS n FROM account_exports WHERE id = $1', [old.id])).rows[0].n, 0, 'the expired one is gone')
    t.equal((await app.pg.query('SELECT count(*)::int AS n FROM account_exports')).rows[0].n, kept, 'the others stay')
    const schedules = await app.jobs.boss.getSchedules()
    t.ok(schedules.some((s: { name: string }) => s.name === 'account-exports.sweep'), 'the sweep is scheduled')
  })

  await t.test('a deleted account leaves no export behind', async (t) => {
    await app.pg.query('UPDATE competitions SET status = \'final\' WHERE id = $1', [seeded.competitionId])
    await app.pg.query('UPDATE competitions SET status = \'cancelled\' WHERE created_by = $1', [person.id])
    const res = await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${person.id}`, headers: admin.headers, payload: { force: true } })
    t.equal(res.statusCode, 200, res.body)
    t.equal((await app.pg.query('SELECT count(*)::int AS n FROM account_exports WHERE user_id = $1', [person.id])).rows[0].n, 0)
    t.equal((await app.pg.query('SELECT count(*)::int AS n FROM competition_series_subscriptions WHERE user_id = $1', [person.id])).rows[0].n, 0, 'nor a series subscription')
  })
})
