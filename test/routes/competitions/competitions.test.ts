import { test } from 'tap'
import Fastify from 'fastify'
import { build } from '../../helper.ts'
import { serverOptions } from '../../../lib/server-options.ts'
import { IdempotencyHeadersSchema, RequiredIdempotencyHeadersSchema } from '../../../schemas/common.ts'
import { createCompetition, credit, hoursFromNow, ledgerTotals, signIn, TEST_CONFIG } from './fixtures.ts'

test('creating competitions', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const post = async (payload: Record<string, unknown>, who = admin) => await app.inject({ method: 'POST', url: '/api/v1/competitions', headers: who.headers, payload })
  const valid = { name: 'Ten thousand a day', metric: 'steps', startsAt: hoursFromNow(2), endsAt: hoursFromNow(26) }

  const created = await post({
    ...valid,
    description: 'Walk more',
    timeZone: 'europe/paris',
    gracePeriodSeconds: 7200,
    entryFee: 500,
    currency: 'EUR',
    sponsorPrize: 10_000,
    houseShareBps: 1000,
    maxParticipants: 100,
    prizeSplit: { type: 'percent', places: [60, 30, 10] },
    visibility: 'private'
  })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, {
    name: 'Ten thousand a day',
    metric: 'steps',
    timeZone: 'Europe/Paris',
    gracePeriodSeconds: 7200,
    entryFee: 500,
    currency: 'EUR',
    sponsorPrize: 10_000,
    houseShareBps: 1000,
    maxParticipants: 100,
    participantCount: 0,
    prizePool: 10_000,
    prizeSplit: { type: 'percent', places: [60, 30, 10] },
    visibility: 'private',
    status: 'scheduled',
    joinable: true,
    createdBy: admin.id
  })
  t.equal(created.headers.location, `/api/v1/competitions/${body.id}`)
  const fixed = await post({ ...valid, prizeSplit: { type: 'fixed', amounts: [5000, 2000] } })
  t.equal(fixed.statusCode, 201)
  t.same(fixed.json().prizeSplit, { type: 'fixed', amounts: [5000, 2000] })

  const invalid: Record<string, [Record<string, unknown>, RegExp]> = {
    'end before start': [{ ...valid, endsAt: valid.startsAt, startsAt: valid.endsAt }, /endsAt must be after startsAt/],
    'start in the past': [{ ...valid, startsAt: hoursFromNow(-1) }, /startsAt must not be in the past/],
    'percentages not summing to 100': [{ ...valid, prizeSplit: { type: 'percent', places: [50, 30] } }, /sum to 100/],
    'unknown metric': [{ ...valid, metric: 'push_ups' }, /metric/],
    'unknown time zone': [{ ...valid, timeZone: 'Mars/Olympus' }, /timeZone/],
    'negative fee': [{ ...valid, entryFee: -1 }, /entryFee/],
    'fractional money': [{ ...valid, sponsorPrize: 10.5 }, /sponsorPrize/],
    'missing name': [{ metric: 'steps', startsAt: valid.startsAt, endsAt: valid.endsAt }, /name/],
    'house share over 100%': [{ ...valid, houseShareBps: 10_001 }, /houseShareBps/]
  }
  for (const [name, [payload, message]] of Object.entries(invalid)) {
    const res = await post(payload)
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, `${name}: says why`)
  }

  const forbidden = await post(valid, user)
  t.equal(forbidden.statusCode, 403, 'users may not create competitions by default')

  const open = await build(t, { config: { ...TEST_CONFIG, COMPETITION_CREATORS: 'users' } })
  const creator = await signIn(open)
  const allowed = await open.inject({ method: 'POST', url: '/api/v1/competitions', headers: creator.headers, payload: valid })
  t.equal(allowed.statusCode, 201, 'COMPETITION_CREATORS=users lets anyone create')
})

test('listing, filtering, paging and reading competitions', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  const other = await signIn(app)
  for (let i = 0; i < 5; i++) await createCompetition(app, admin, { name: `steps ${i}` })
  const distance = await createCompetition(app, admin, { name: 'distance', metric: 'distance_m', maxParticipants: 1 })
  const secret = await createCompetition(app, admin, { name: 'secret', visibility: 'private' })
  const running = await createCompetition(app, admin, { name: 'running', startsAt: hoursFromNow(0), endsAt: hoursFromNow(1) })
  await app.lifecycle.sweep(new Date(Date.now() + 60_000))
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${distance.id}/join`, headers: other.headers })

  const list = async (query: string, who = user) => {
    const res = await app.inject({ url: `/api/v1/competitions${query}`, headers: who.headers })
    t.equal(res.statusCode, 200, `GET ${query}`)
    return res.json() as { items: Array<{ id: string, name: string }>, nextCursor: string | null }
  }
  const names = (page: { items: Array<{ name: string }> }) => page.items.map((c) => c.name)

  t.same(names(await list('')), ['running', 'distance', 'steps 4', 'steps 3', 'steps 2', 'steps 1', 'steps 0'], 'newest first; private ones are unlisted')
  t.same(names(await list('', admin)).length, 8, 'admins see private ones too')
  t.same(names(await list('?metric=distance_m')), ['distance'])
  t.same(names(await list('?status=active')), ['running'])
  t.same(names(await list('?joinable=false')), ['distance'], 'a full competition is not joinable')
  t.equal(names(await list('?joinable=true')).length, 6)
  t.same(names(await list('?visibility=private', admin)), ['secret'])
  t.same(names(await list('?visibility=private')), [])
  const uninvited = await app.inject({ method: 'POST', url: `/api/v1/competitions/${secret.id}/join`, headers: user.headers })
  t.equal(uninvited.statusCode, 403, 'knowing a private competition\'s id is not enough to join it')
  const invite = await app.inject({ method: 'POST', url: `/api/v1/competitions/${secret.id}/invites`, headers: admin.headers })
  const joinedSecret = await app.inject({ method: 'POST', url: `/api/v1/competitions/${secret.id}/join`, headers: user.headers, payload: { inviteCode: invite.json().code } })
  t.equal(joinedSecret.statusCode, 200, 'an invite opens it')
  t.same(names(await list('?visibility=private')), ['secret'], 'and then it is listed for them')

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page = await list(`?metric=steps&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...names(page))
    cursor = page.nextCursor
    pages++
  } while (cursor)
  t.equal(pages, 4)
  t.same(seen, ['running', 'secret', 'steps 4', 'steps 3', 'steps 2', 'steps 1', 'steps 0'], 'pages cover everything once, in order')

  const bad = await app.inject({ url: '/api/v1/competitions?cursor=garbage', headers: user.headers })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'BAD_REQUEST', message: /cursor/ })
  t.equal((await app.inject({ url: '/api/v1/competitions?limit=1000', headers: user.headers })).statusCode, 400)
  t.equal((await app.inject({ url: '/api/v1/competitions?status=sleeping', headers: user.headers })).statusCode, 400)

  const detail = await app.inject({ url: `/api/v1/competitions/${distance.id}`, headers: user.headers })
  t.match(detail.json(), { id: distance.id, participantCount: 1, maxParticipants: 1, joinable: false, status: 'scheduled' })
  t.equal((await app.inject({ url: `/api/v1/competitions/${running.id}`, headers: user.headers })).json().status, 'active')
  t.equal((await app.inject({ url: '/api/v1/competitions/00000000-0000-4000-8000-000000000000', headers: user.headers })).statusCode, 404)
  const notUuid = await app.inject({ url: '/api/v1/competitions/42', headers: user.headers })
  t.equal(notUuid.statusCode, 400)
  t.match(notUuid.json(), { code: 'VALIDATION_ERROR', message: /params\.id/ })
})

test('join and leave: fees, refunds and retries with idempotency keys', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const joined: string[] = []
  const left: string[] = []
  app.events.on('participant.joined', (e) => { joined.push(e.userId) })
  app.events.on('participant.left', (e) => { left.push(e.userId) })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  await credit(app, admin, user.id, 1000)
  const competition = await createCompetition(app, admin, { entryFee: 250 })
  const url = (action: string) => `/api/v1/competitions/${competition.id}/${action}`
  const act = async (action: string, key?: string, who = user, payload?: Record<string, unknown>) => await app.inject({
    method: 'POST',
    url: url(action),
    headers: { ...who.headers, ...(key ? { 'idempotency-key': key } : {}) },
    ...(payload ? { payload } : {})
  })
  const wallet = async () => {
    const { rows } = await app.pg.query('SELECT sum(balance)::int AS balance FROM accounts WHERE kind = \'wallet\' AND user_id = $1', [user.id])
    return rows[0]?.balance
  }
  const count = async (sql: string) => (await app.pg.query(sql, [competition.id])).rows[0].n

  const first = await act('join', 'join-1')
  t.equal(first.statusCode, 200)
  t.match(first.json(), { competitionId: competition.id, userId: user.id, entryFee: 250, currency: 'USD', transactionId: Number })
  t.equal(await wallet(), 750)
  const retry = await act('join', 'join-1')
  t.equal(retry.statusCode, 200)
  t.equal(retry.body, first.body, 'the retried join returns the same result')
  t.equal(await wallet(), 750, 'and charges nothing')
  t.equal((await act('join')).body, first.body, 'joining again without a key is the same no-op')
  t.equal(await count('SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = \'entry_fee\' AND competition_id = $1'), 1)

  const leave = await act('leave', 'leave-1')
  t.equal(leave.statusCode, 200)
  t.match(leave.json(), { competitionId: competition.id, userId: user.id, refunded: 250, currency: 'USD', transactionId: Number })
  t.equal(await wallet(), 1000, 'refunded')
  const leaveRetry = await act('leave', 'leave-1')
  t.equal(leaveRetry.statusCode, 200)
  t.equal(leaveRetry.body, leave.body, 'the retried leave returns the same result')
  t.equal(await wallet(), 1000, 'and refunds nothing more')
  t.equal((await act('join', 'join-1')).body, first.body, 'replaying the first join after leaving changes nothing')
  t.equal(await wallet(), 1000)
  t.equal(await count('SELECT count(*)::int AS n FROM participants WHERE competition_id = $1'), 0, 'still not a participant')
  const notMember = await act('leave')
  t.equal(notMember.statusCode, 409)
  t.match(notMember.json(), { code: 'CONFLICT', message: /Not a participant/ })

  const rejoin = await act('join', 'join-2')
  t.equal(rejoin.statusCode, 200)
  t.not(rejoin.json().transactionId, first.json().transactionId, 'joining again later is a new membership')
  t.equal(await wallet(), 750, 'and pays again')

  const reused = await app.inject({ method: 'POST', url: `/api/v1/competitions/${(await createCompetition(app, admin)).id}/join`, headers: { ...user.headers, 'idempotency-key': 'join-1' } })
  t.equal(reused.statusCode, 200, 'keys are scoped per competition')

  t.same(joined, [user.id, user.id, user.id], 'participant.joined once per real join')
  t.same(left, [user.id], 'participant.left once per real leave')

  await app.lifecycle.sweep(new Date(new Date(competition.startsAt).getTime() + 1))
  const tooLate = await act('leave')
  t.equal(tooLate.statusCode, 409)
  t.match(tooLate.json().message, /started/)
  t.equal(await wallet(), 750)

  const poor = await signIn(app)
  const refused = await act('join', undefined, poor)
  t.equal(refused.statusCode, 409)
  t.match(refused.json(), { code: 'INSUFFICIENT_FUNDS' })
  t.equal(await count('SELECT participant_count AS n FROM competitions WHERE id = $1'), 1, 'a refused join takes no place')
  t.equal((await act('join', undefined, poor, { userId: '00000000-0000-4000-8000-000000000000' })).statusCode, 403, 'users act only for themselves')

  const free = await createCompetition(app, admin)
  const onBehalf = await app.inject({ method: 'POST', url: `/api/v1/competitions/${free.id}/join`, headers: admin.headers, payload: { userId: poor.id } })
  t.equal(onBehalf.statusCode, 200)
  t.match(onBehalf.json(), { userId: poor.id, entryFee: 0, transactionId: null }, 'admins may join a user; free competitions move no money')
  const ghost = await app.inject({ method: 'POST', url: `/api/v1/competitions/${free.id}/join`, headers: admin.headers, payload: { userId: '00000000-0000-4000-8000-000000000000' } })
  t.equal(ghost.statusCode, 404)
  const missing = await app.inject({ method: 'POST', url: '/api/v1/competitions/00000000-0000-4000-8000-000000000000/join', headers: user.headers })
  t.equal(missing.statusCode, 404)

  t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 })
})

test('a user\'s competitions: current and past, with rank', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const admin = await signIn(app, { admin: true })
  const [ada, bob, cy] = [await signIn(app), await signIn(app), await signIn(app)]
  const past = await createCompetition(app, admin, { name: 'past', startsAt: hoursFromNow(0), endsAt: hoursFromNow(1), gracePeriodSeconds: 3 * 3600 })
  const current = await createCompetition(app, admin, { name: 'current', startsAt: hoursFromNow(0), endsAt: hoursFromNow(48) })
  const upcoming = await createCompetition(app, admin, { name: 'upcoming', startsAt: hoursFromNow(24), endsAt: hoursFromNow(48) })
  for (const c of [past, current, upcoming]) {
    for (const p of [ada!, bob!, cy!]) await app.inject({ method: 'POST', url: `/api/v1/competitions/${c.id}/join`, headers: p.headers })
  }
  for (const [p, score] of [[ada!, 10], [bob!, 30], [cy!, 10]] as const) {
    await app.pg.query('UPDATE participants SET score = $2 WHERE user_id = $1', [p.id, score])
  }
  await app.lifecycle.sweep(new Date(Date.now() + 2 * 3600_000))

  const get = async (query: string) => (await app.inject({ url: `/api/v1/users/${ada!.id}/competitions${query}`, headers: ada!.headers })).json()
  const currentPage = await get('?scope=current')
  t.same(currentPage.items.map((i: { competition: { name: string } }) => i.competition.name), ['upcoming', 'current', 'past'])
  t.match(currentPage.items[1], { competition: { status: 'active' }, score: 10, rank: 2, finalRank: null })
  const pastPage = await get('?scope=past')
  t.same(pastPage.items, [], 'in its grace period a competition is still current')
  await app.lifecycle.endEarly(past.id)
  const finished = await get('?scope=past')
  t.match(finished.items, [{ competition: { name: 'past', status: 'final' }, score: 10, rank: 2, finalRank: 2 }])
  const all = await get('?limit=2')
  t.equal(all.items.length, 2)
  const rest = await get(`?limit=2&cursor=${all.nextCursor}`)
  t.same(rest.items.map((i: { competition: { name: string } }) => i.competition.name), ['past'])
  t.equal(rest.nextCursor, null)

  const dashboard = (await app.inject({ url: `/api/v1/users/${bob!.id}/dashboard`, headers: bob!.headers })).json()
  t.match(dashboard.competitions, [{ name: 'current', status: 'active', score: 30, rank: 1, participantCount: 3 }], 'the dashboard shows running competitions with rank')
  t.equal(dashboard.competitions.length, 1)
})

test('declaring the Idempotency-Key header keeps the request\'s other headers', async (t) => {
  const app = Fastify({ ...serverOptions({ LOG_LEVEL: 'silent' }), logger: false })
  t.teardown(async () => await app.close())
  app.post('/probe', { schema: { headers: IdempotencyHeadersSchema } }, async (request) => ({ headers: Object.keys(request.headers) }))
  app.post('/probe-required', { schema: { headers: RequiredIdempotencyHeadersSchema } }, async (request) => ({ headers: Object.keys(request.headers) }))
  const res = await app.inject({ method: 'POST', url: '/probe', headers: { authorization: 'Bearer x', 'user-agent': 'app/1.0', 'idempotency-key': 'k-1' } })
  t.equal(res.statusCode, 200)
  t.match(res.json().headers, ['authorization', 'user-agent', 'idempotency-key'])
  const bad = await app.inject({ method: 'POST', url: '/probe', headers: { 'idempotency-key': 'with spaces' } })
  t.equal(bad.statusCode, 400, 'the key itself is still validated')
  const required = await app.inject({ method: 'POST', url: '/probe-required', headers: { authorization: 'Bearer x', 'idempotency-key': 'k-2' } })
  t.match(required.json().headers, ['authorization', 'idempotency-key'], 'the required form keeps them too')
  t.equal((await app.inject({ method: 'POST', url: '/probe-required', headers: { authorization: 'Bearer x' } })).statusCode, 400, 'and requires the key')
})
