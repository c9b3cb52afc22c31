import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { access } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { bearer, build } from '../../helper.ts'
import { createCompetition, credit, ledgerTotals, signIn, type Person } from '../competitions/fixtures.ts'
import { eventually } from '../fitness/fixtures.ts'
import { listen, liveClient } from '../leaderboard/fixtures.ts'
import { startFitbitFake } from '../../fakes/fitbit.ts'
import { readBody, replyJson, serveLocal } from '../../fakes/http.ts'
import { leavingConfig, seedAccount, tablesHolding, WEBHOOK_SECRET } from './leaving-fixtures.ts'

const CONFIRM = { confirm: 'delete my account' }

async function balances (app: FastifyInstance): Promise<Record<string, string>> {
  const { rows } = await app.pg.query<{ id: string, balance: string }>('SELECT id::text, balance::text FROM accounts ORDER BY id')
  return Object.fromEntries(rows.map((r) => [r.id, r.balance]))
}

async function exists (file: string): Promise<boolean> {
  return await access(file).then(() => true, () => false)
}

async function deposit (app: FastifyInstance, userId: string, amount: number): Promise<void> {
  await app.pg.transact(async (tx) => await app.ledger.transfer(tx, {
    idempotencyKey: randomUUID(),
    kind: 'deposit',
    legs: [
      { accountId: await app.ledger.ensureAccount(tx, { kind: 'external', currency: 'USD' }), amount: -amount },
      { accountId: await app.ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId, currency: 'USD' }), amount }
    ]
  }))
}

test('account deletion', async (t) => {
  const fitbit = await startFitbitFake({ clientId: 'leaving', clientSecret: 'leaving-secret', accountId: 'LEAVE01' })
  t.teardown(fitbit.close)
  const app = await build(t, { config: leavingConfig(fitbit) })
  const admin = await signIn(app, { admin: true })

  await t.test('the user deletes their own account: no personal data stays, the ledger is untouched', async (t) => {
    const seeded = await seedAccount(app, { admin, fitbit, tag: 'Zephyrine' })
    const { person, personal } = seeded
    const avatarFile = path.join(app.config.DATA_DIR, 'files', seeded.avatarKey)
    t.ok(await exists(avatarFile), 'the avatar is stored')
    for (const value of Object.values(personal)) t.not((await tablesHolding(app, value)).length, 0, `"${value}" is stored before`)

    const del = async (payload: unknown) => await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: person.headers, payload: payload as object })
    t.equal((await del({})).statusCode, 400, 'without the confirmation nothing happens')
    t.equal((await del({ confirm: 'yes' })).statusCode, 400, 'a wrong confirmation neither')

    // A competition that is not over keeps the account open.
    const running = await del(CONFIRM)
    t.equal(running.statusCode, 409)
    t.match(running.json(), { code: 'CONFLICT', message: /competition that is not over/ })
    t.equal((await app.inject({ url: '/api/v1/me', headers: person.headers })).statusCode, 200, 'still signed in')
    t.equal((await tablesHolding(app, personal.deviceToken)).length, 1, 'nothing was erased')
    await app.pg.query('UPDATE competitions SET status = \'final\' WHERE id = $1', [seeded.competitionId])

    const before = await balances(app)
    const deleted = await del(CONFIRM)
    t.equal(deleted.statusCode, 200, deleted.body)
    t.match(deleted.json(), { userId: person.id, erased: true, deletedAt: String })

    for (const [what, value] of Object.entries(personal)) t.same(await tablesHolding(app, value), [], `no table holds the ${what}`)
    const left = (await app.pg.query(`SELECT
      (SELECT count(*) FROM fitness_samples WHERE user_id = $1)::int AS samples,
      (SELECT count(*) FROM daily_totals WHERE user_id = $1)::int AS totals,
      (SELECT count(*) FROM provider_connections WHERE user_id = $1)::int AS connections,
      (SELECT count(*) FROM push_devices WHERE user_id = $1)::int AS devices,
      (SELECT count(*) FROM notification_preferences WHERE user_id = $1)::int AS preferences,
      (SELECT count(*) FROM notification_settings WHERE user_id = $1)::int AS settings,
      (SELECT count(*) FROM notifications WHERE user_id = $1)::int AS inbox,
      (SELECT count(*) FROM activity WHERE user_id = $1)::int AS activity,
      (SELECT count(*) FROM participants WHERE user_id = $1)::int AS participations,
      (SELECT count(*) FROM score_events WHERE user_id = $1)::int AS score_events`, [person.id])).rows[0]
    t.same(left, { samples: 0, totals: 0, connections: 0, devices: 0, preferences: 0, settings: 0, inbox: 0, activity: 0, participations: 1, score_events: left.score_events },
      'personal rows are gone; the participation stays under the pseudonym')
    t.ok(left.score_events > 0, 'the score history of the ended competition stays')
    const { rows: [tombstone] } = await app.pg.query('SELECT email, username, display_name, avatar_url, avatar_key, phone_number, bio, deleted_by, deleted_at IS NOT NULL AS deleted FROM users WHERE id = $1', [person.id])
    t.same(tombstone, { email: null, username: null, display_name: 'Deleted user', avatar_url: null, avatar_key: null, phone_number: null, bio: '', deleted_by: 'self', deleted: true })
    t.notOk(await exists(avatarFile), 'the avatar file is removed')
    t.equal(fitbit.oauth.state.revoked.length, 1, 'the provider grant was revoked at the provider')

    const { rows: events } = await app.pg.query('SELECT payload FROM domain_events WHERE type = \'user.deleted\' AND user_id = $1', [person.id])
    t.same(events.map((e) => e.payload), [{ userId: person.id, deletedAt: deleted.json().deletedAt }], 'integrators are told (a user.deleted event)')
    t.same(await balances(app), before, 'every account balance is unchanged (the promotional credit stays in the closed wallet)')
    t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 }, 'the ledger sums to zero')

    const refused = await app.inject({ url: '/api/v1/me', headers: person.headers })
    t.equal(refused.statusCode, 401, 'the old token is refused')
    t.match(refused.json(), { statusCode: 401, code: 'UNAUTHORIZED', message: 'This account has been deleted', requestId: String })
    const fresh = bearer({ sub: person.id })
    t.equal((await app.inject({ url: '/api/v1/competitions', headers: fresh })).statusCode, 401, 'a new token of the same id is refused too, never provisioned again')
    t.equal((await app.inject({ url: `/api/v1/users/${person.id}/profile`, headers: admin.headers })).statusCode, 404, 'the profile is gone')
    const again = await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${person.id}`, headers: admin.headers, payload: {} })
    t.match(again.json(), { erased: false }, 'deleting again changes nothing')
  })

  await t.test('money that can be withdrawn keeps the account open; an admin may force it', async (t) => {
    const user = await signIn(app)
    await deposit(app, user.id, 2500)
    const refused = await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: user.headers, payload: CONFIRM })
    t.equal(refused.statusCode, 409)
    t.match(refused.json().message, /withdraw it first/)
    const asAdmin = await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${user.id}`, headers: admin.headers, payload: {} })
    t.equal(asAdmin.statusCode, 409, 'an admin is refused alike without force')

    // A paid competition that has not started: a forced deletion leaves it, refunding the fee.
    const paid = await createCompetition(app, admin, { entryFee: 400, currency: 'USD' })
    const joined = await app.inject({ method: 'POST', url: `/api/v1/competitions/${paid.id}/join`, headers: { ...user.headers, 'idempotency-key': randomUUID() }, payload: {} })
    t.equal(joined.statusCode, 200, joined.body)

    const before = await balances(app)
    const forced = await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${user.id}`, headers: admin.headers, payload: { force: true } })
    t.equal(forced.statusCode, 200, forced.body)
    const { rows: wallet } = await app.pg.query('SELECT coalesce(sum(balance), 0)::int AS total FROM accounts WHERE user_id = $1 AND kind = \'wallet\'', [user.id])
    t.equal(wallet[0].total, 2500, 'the deposit and the refunded fee stay in the closed wallet, in the ledger')
    t.equal((await app.pg.query('SELECT 1 FROM participants WHERE user_id = $1', [user.id])).rowCount, 0, 'the unstarted competition was left')
    t.not(JSON.stringify(await balances(app)), JSON.stringify(before), 'the refund moved money from escrow back to the wallet')
    t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 })
    t.equal((await app.inject({ url: '/api/v1/me', headers: user.headers })).statusCode, 401)
    const { rows } = await app.pg.query('SELECT deleted_by FROM users WHERE id = $1', [user.id])
    t.equal(rows[0].deleted_by, 'admin')

    const other = await signIn(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${other.id}`, headers: user.headers, payload: {} })).statusCode, 401)
    const stranger = await signIn(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${other.id}`, headers: stranger.headers, payload: {} })).statusCode, 403, 'users may not delete others')
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${randomUUID()}`, headers: admin.headers, payload: {} })).statusCode, 404)
  })

  await t.test('a Supabase Auth deletion reaches the service through its webhook', async (t) => {
    const seeded = await seedAccount(app, { admin, fitbit, tag: 'Quillon' })
    await deposit(app, seeded.person.id, 900)
    const payload = { type: 'DELETE', table: 'users', schema: 'auth', record: null, old_record: { id: seeded.person.id, email: seeded.personal.email, aud: 'authenticated' } }
    const send = async (headers: Record<string, string>, body: object = payload) =>
      await app.inject({ method: 'POST', url: '/api/v1/auth/supabase/webhook', headers, payload: body })

    for (const [name, headers] of [['no secret', {}], ['a forged secret', { 'x-webhook-secret': 'guess' }], ['a user token', seeded.person.headers]] as const) {
      const res = await send(headers)
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.match(res.json(), { code: 'UNAUTHORIZED', requestId: String })
    }
    t.equal((await app.inject({ url: '/api/v1/me', headers: seeded.person.headers })).statusCode, 200, 'nothing was deleted')

    const good = { 'x-webhook-secret': WEBHOOK_SECRET }
    t.equal((await send(good, { hello: 'world' })).statusCode, 400, 'not a webhook payload')
    t.same((await send(good, { ...payload, type: 'UPDATE', record: {} })).json(), { received: true, deletion: null }, 'other events change nothing')
    t.same((await send(good, { ...payload, old_record: { id: randomUUID() } })).json(), { received: true, deletion: null }, 'a user the service never saw')

    const before = await balances(app)
    const res = await send(good)
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { received: true, deletion: { userId: seeded.person.id, erased: true } })
    t.match((await send(good)).json(), { deletion: { erased: false } }, 'a redelivery changes nothing')
    for (const [what, value] of Object.entries(seeded.personal)) t.same(await tablesHolding(app, value), [], `no table holds the ${what}`)
    t.same(await balances(app), before, 'forced: the deposit stays in the closed wallet')
    t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 })
    t.equal((await app.inject({ url: '/api/v1/me', headers: seeded.person.headers })).statusCode, 401)
    t.equal((await app.pg.query('SELECT deleted_by FROM users WHERE id = $1', [seeded.person.id])).rows[0].deleted_by, 'auth')
  })
})

test('a deletion on one instance is refused on every instance, and closes the account\'s live feeds there', async (t) => {
  const first = await build(t, { config: { LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const second = await build(t, { databaseUrl: first.config.DATABASE_URL, redisPrefix: first.config.REDIS_KEY_PREFIX, config: { LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const user: Person = await signIn(first)
  const watched = await createCompetition(first, await signIn(first, { admin: true }))
  const feed = await liveClient(await listen(second), watched.id, { token: user.headers.authorization!.slice('Bearer '.length) })
  t.teardown(() => feed.close())
  await feed.next((f) => f.type === 'snapshot')
  // The second instance knows the caller and their token: its next call would cost no query.
  t.equal((await second.inject({ url: '/api/v1/me', headers: user.headers })).statusCode, 200)
  t.equal((await second.inject({ url: '/api/v1/me', headers: user.headers })).statusCode, 200)
  await credit(first, await signIn(first, { admin: true }), user.id, 100)

  const res = await first.inject({ method: 'DELETE', url: '/api/v1/me', headers: user.headers, payload: CONFIRM })
  t.equal(res.statusCode, 200, res.body)
  await eventually(async () => (await second.inject({ url: '/api/v1/me', headers: user.headers })).statusCode === 401 ? true : undefined)
  t.pass('the second instance refuses the token once the deletion is announced')
  t.match(await feed.closed, { code: 4401, reason: 'This account has been deleted' }, 'its live feed on the second instance is closed')
})

test('with Supabase configured, the auth user behind a deleted account is deleted too', async (t) => {
  const calls: Array<{ id: string, apikey: unknown, authorization: unknown, body: unknown }> = []
  const supabase = await serveLocal(async (req, res) => {
    const match = /^\/auth\/v1\/admin\/users\/([0-9a-f-]{36})$/.exec(req.url ?? '')
    if (req.method !== 'DELETE' || match === null) return replyJson(res, 404, { code: 404, msg: 'not found' })
    calls.push({ id: match[1]!, apikey: req.headers.apikey, authorization: req.headers.authorization, body: JSON.parse(await readBody(req)) })
    replyJson(res, 200, {})
  }, () => ({ code: 500, msg: 'fake failed' }))
  t.teardown(supabase.close)
  const app = await build(t, { config: { LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0, SUPABASE_URL: supabase.url, SUPABASE_SERVICE_ROLE_KEY: 'service-role-key', SUPABASE_AUTH_WEBHOOK_SECRET: WEBHOOK_SECRET } })

  const user = await signIn(app)
  t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: user.headers, payload: CONFIRM })).statusCode, 200)
  await eventually(async () => calls.length > 0 ? true : undefined, 15_000)
  t.same(calls, [{ id: user.id, apikey: 'service-role-key', authorization: 'Bearer service-role-key', body: { should_soft_delete: false } }], 'the Auth admin API deleted the user')

  // Deleted in Supabase first: the webhook's deletion asks nothing back.
  const other = await signIn(app)
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/supabase/webhook',
    headers: { 'x-webhook-secret': WEBHOOK_SECRET },
    payload: { type: 'DELETE', table: 'users', schema: 'auth', record: null, old_record: { id: other.id } }
  })
  t.match(res.json(), { deletion: { erased: true } })
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND data->>\'userId\' = $2', ['users.delete-auth-user', other.id])
  t.equal(rows[0].n, 0, 'no auth deletion job for an account Supabase deleted')
})
