import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../../helper.ts'
import { createCompetition, credit, signIn, TEST_CONFIG } from '../competitions/fixtures.ts'

test('profiles', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const id = randomUUID()
  const me = bearer({ sub: id, claims: { email: 'ada@example.test', user_metadata: { full_name: 'Ada Lovelace' } } })
  const url = `/api/v1/users/${id}/profile`

  const first = await app.inject({ url, headers: me })
  t.equal(first.statusCode, 200, 'the profile exists on first authenticated use')
  t.match(first.json(), { id, email: 'ada@example.test', displayName: 'Ada Lovelace', username: null, timeZone: 'UTC', units: 'metric', bio: '' })

  const update = await app.inject({ method: 'PUT', url, headers: me, payload: { username: 'ada.l', bio: 'Counts steps', timeZone: 'america/new_york', units: 'imperial' } })
  t.equal(update.statusCode, 200)
  t.match(update.json(), { username: 'ada.l', bio: 'Counts steps', timeZone: 'America/New_York', units: 'imperial', displayName: 'Ada Lovelace' })
  t.equal((await app.inject({ url, headers: me })).json().timeZone, 'America/New_York', 'reads see the update (cache invalidated)')

  const bob = await signIn(app)
  const publicView = await app.inject({ url, headers: bob.headers })
  t.equal(publicView.statusCode, 200)
  t.same(Object.keys(publicView.json()).sort(), ['avatarUrl', 'bio', 'displayName', 'id', 'username'], 'others see public fields only')
  const adminView = await app.inject({ url, headers: bearer({ sub: randomUUID(), admin: true }) })
  t.equal(adminView.json().email, 'ada@example.test', 'admins see everything')

  const clash = await app.inject({ method: 'PUT', url: `/api/v1/users/${bob.id}/profile`, headers: bob.headers, payload: { username: 'ADA.L' } })
  t.equal(clash.statusCode, 409, 'usernames are unique ignoring case')
  t.match(clash.json(), { code: 'CONFLICT', message: /taken/ })

  const invalid: Record<string, [Record<string, unknown>, RegExp]> = {
    'short username': [{ username: 'ab' }, /body\.username/],
    'username with spaces': [{ username: 'ada lovelace' }, /body\.username/],
    'bio too long': [{ bio: 'x'.repeat(501) }, /body\.bio/],
    'display name too long': [{ displayName: 'x'.repeat(65) }, /body\.displayName/],
    'unknown units': [{ units: 'cubits' }, /body\.units/],
    'not a time zone': [{ timeZone: 'Middle/Earth' }, /timeZone/],
    'nothing to change': [{}, /body/]
  }
  for (const [name, [payload, message]] of Object.entries(invalid)) {
    const res = await app.inject({ method: 'PUT', url, headers: me, payload })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json(), { statusCode: 400, message }, `${name}: names the field`)
  }

  const byAdmin = await app.inject({ method: 'PUT', url, headers: bearer({ sub: randomUUID(), admin: true }), payload: { displayName: 'Countess' } })
  t.equal(byAdmin.statusCode, 200, 'admins may edit anyone')
  t.equal((await app.inject({ url, headers: me })).json().displayName, 'Countess')

  const nobody = await app.inject({ url: `/api/v1/users/${randomUUID()}/profile`, headers: me })
  t.equal(nobody.statusCode, 404)
  const nobodyEdit = await app.inject({ method: 'PUT', url: `/api/v1/users/${randomUUID()}/profile`, headers: bearer({ sub: randomUUID(), admin: true }), payload: { bio: 'x' } })
  t.equal(nobodyEdit.statusCode, 404)
})

test('a JSON body over BODY_LIMIT_BYTES is refused with 413 in the error shape', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, BODY_LIMIT_BYTES: 2048 } })
  const user = await signIn(app)
  const res = await app.inject({
    method: 'PUT',
    url: `/api/v1/users/${user.id}/profile`,
    headers: { ...user.headers, 'content-type': 'application/json' },
    payload: JSON.stringify({ bio: 'x'.repeat(4000) })
  })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { statusCode: 413, code: String, error: 'Payload Too Large', message: String, requestId: res.headers['x-request-id'] })
  const admin = await signIn(app, { admin: true })
  const competition = await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: admin.headers, payload: { name: 'x', metric: 'steps', startsAt: new Date().toISOString(), endsAt: new Date().toISOString(), description: 'y'.repeat(3000) } })
  t.equal(competition.statusCode, 413, 'the same on competition routes')
})

test('wallet credits, transactions and activity', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const creditUrl = `/api/v1/admin/users/${user.id}/credit`
  const post = async (key: string | undefined, payload: Record<string, unknown>) => await app.inject({
    method: 'POST', url: creditUrl, headers: { ...admin.headers, ...(key ? { 'idempotency-key': key } : {}) }, payload
  })

  const first = await post('gift-1', { amount: 1500, currency: 'USD', memo: 'Welcome' })
  t.equal(first.statusCode, 201)
  t.match(first.json(), { userId: user.id, amount: 1500, currency: 'USD', balance: 1500, transactionId: Number })
  const retry = await post('gift-1', { amount: 1500, currency: 'USD', memo: 'Welcome' })
  t.equal(retry.statusCode, 201)
  t.equal(retry.body, first.body, 'a retry returns the first answer')
  t.equal(retry.headers['idempotent-replayed'], 'true')
  const misuse = await post('gift-1', { amount: 9999, currency: 'USD' })
  t.equal(misuse.statusCode, 422, 'a key reused for another request is refused')
  t.match(misuse.json(), { code: 'UNPROCESSABLE', message: /Idempotency-Key/ })
  t.equal((await post(undefined, { amount: 1, currency: 'USD' })).statusCode, 400, 'the key is required')
  t.equal((await post('zero', { amount: 0, currency: 'USD' })).statusCode, 400)
  t.equal((await post('cents', { amount: 1.5, currency: 'USD' })).statusCode, 400)
  t.equal((await post('lower', { amount: 1, currency: 'usd' })).statusCode, 400)
  const ghost = await app.inject({ method: 'POST', url: `/api/v1/admin/users/${randomUUID()}/credit`, headers: { ...admin.headers, 'idempotency-key': 'ghost' }, payload: { amount: 1, currency: 'USD' } })
  t.equal(ghost.statusCode, 404)
  await post('gift-eur', { amount: 700, currency: 'EUR' })

  const competition = await createCompetition(app, admin, { entryFee: 400 })
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: user.headers })
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/leave`, headers: user.headers })
  await credit(app, admin, user.id, 100)

  const txUrl = `/api/v1/users/${user.id}/transactions`
  const page1 = (await app.inject({ url: `${txUrl}?limit=3`, headers: user.headers })).json()
  t.match(page1.items, [
    { kind: 'credit', amount: 100, balanceAfter: 1600, currency: 'USD' },
    { kind: 'refund', amount: 400, balanceAfter: 1500, competitionId: competition.id },
    { kind: 'entry_fee', amount: -400, balanceAfter: 1100, competitionId: competition.id }
  ], 'newest first with running balance')
  const page2 = (await app.inject({ url: `${txUrl}?limit=3&cursor=${page1.nextCursor}`, headers: user.headers })).json()
  t.match(page2.items, [{ kind: 'credit', amount: 700, currency: 'EUR', balanceAfter: 700 }, { kind: 'credit', amount: 1500, memo: 'Welcome', balanceAfter: 1500 }])
  t.equal(page2.nextCursor, null)

  const feed = (await app.inject({ url: `/api/v1/users/${user.id}/activity?limit=4`, headers: user.headers })).json()
  t.same(feed.items.map((i: { kind: string }) => i.kind), ['credit', 'left', 'refund', 'joined'])
  t.match(feed.items[1], { competitionId: competition.id, data: { refunded: 400 } })
  const older = (await app.inject({ url: `/api/v1/users/${user.id}/activity?limit=4&cursor=${feed.nextCursor}`, headers: user.headers })).json()
  t.same(older.items.map((i: { kind: string }) => i.kind), ['credit', 'credit'])
  t.equal(older.nextCursor, null)
  t.equal((await app.inject({ url: `/api/v1/users/${user.id}/activity?cursor=${Buffer.from('["x"]').toString('base64url')}`, headers: user.headers })).statusCode, 400, 'a forged cursor is a 400')
})

test('dashboard: local day and week totals, wallets, activity', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const timeZone = 'Pacific/Kiritimati'
  await app.inject({ method: 'PUT', url: `/api/v1/users/${user.id}/profile`, headers: user.headers, payload: { timeZone } })
  const localDate = (d: Date) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d)
  const today = localDate(new Date())
  const todayUtc = new Date(`${today}T00:00:00Z`)
  const weekStart = new Date(todayUtc.getTime() - ((todayUtc.getUTCDay() + 6) % 7) * 86400_000).toISOString().slice(0, 10)
  const day = (offset: number) => new Date(new Date(`${weekStart}T00:00:00Z`).getTime() + offset * 86400_000).toISOString().slice(0, 10)

  const rows: Array<[string, string, string, number]> = [
    [today, 'steps', 'healthkit', 1000],
    [today, 'steps', 'google_fit', 1200],
    [today, 'distance_m', 'healthkit', 850.5],
    [day(-1), 'steps', 'healthkit', 99_999]
  ]
  if (today !== weekStart) rows.push([weekStart, 'steps', 'healthkit', 500])
  for (const [localDay, metric, source, value] of rows) {
    await app.pg.query('INSERT INTO daily_totals (user_id, local_day, metric, source, value) VALUES ($1, $2, $3, $4, $5)', [user.id, localDay, metric, source, value])
  }
  await credit(app, admin, user.id, 2500)

  const res = await app.inject({ url: `/api/v1/users/${user.id}/dashboard`, headers: user.headers })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body, { timeZone, today, weekStart })
  t.same(body.totals.today, { steps: 1200, distance_m: 850.5, active_kcal: 0, active_minutes: 0 }, 'overlapping sources are not added up')
  t.same(body.totals.week, { steps: 1200 + (today !== weekStart ? 500 : 0), distance_m: 850.5, active_kcal: 0, active_minutes: 0 }, 'the week starts on the user\'s Monday')
  t.same(body.wallets, [{ currency: 'USD', balance: 2500, withdrawable: 0 }], 'a support credit is promotional: spendable, not withdrawable')
  t.match(body.recentActivity, [{ kind: 'credit', data: { amount: 2500 } }])
  t.same(body.competitions, [])
})
