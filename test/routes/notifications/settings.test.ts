import { test } from 'tap'
import { build } from '../../helper.ts'
import { signIn, TEST_CONFIG } from '../competitions/fixtures.ts'

// What a user decides: channels per category, quiet hours, the daily cap, push devices, the
// language and phone number messages use. Refused input is a 400 that names it and changes nothing.

const EXPO_TOKEN = 'ExponentPushToken[abcdefghijklmnopqrstuv]'

test('preferences start at the defaults, change a cell at a time and refuse what they cannot hold', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const ada = await signIn(app)
  const url = `/api/v1/users/${ada.id}/notification-preferences`

  const initial = await app.inject({ url, headers: ada.headers })
  t.equal(initial.statusCode, 200)
  t.same(initial.json().categories.rank, { push: true, email: false, sms: false }, 'rank messages: push only')
  t.same(initial.json().categories.security, { push: true, email: true, sms: true }, 'security: every channel')
  t.equal(initial.json().quietHours, null)
  t.equal(initial.json().dailyCap, 10)

  const changed = await app.inject({
    method: 'PATCH',
    url,
    headers: ada.headers,
    payload: { categories: { rank: { push: false }, money: { sms: true } }, quietHours: { start: '22:00', end: '07:00' }, dailyCap: 3 }
  })
  t.equal(changed.statusCode, 200, changed.body)
  t.same(changed.json().categories.rank, { push: false, email: false, sms: false })
  t.same(changed.json().categories.money, { push: true, email: true, sms: true })
  t.same(changed.json().quietHours, { start: '22:00', end: '07:00' })
  t.equal(changed.json().dailyCap, 3)

  const capOnly = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { dailyCap: 5 } })
  t.same(capOnly.json().quietHours, { start: '22:00', end: '07:00' }, 'quiet hours kept when only the cap changes')
  const cleared = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { quietHours: null } })
  t.equal(cleared.json().quietHours, null)
  t.equal(cleared.json().dailyCap, 5)

  for (const [payload, names] of [
    [{ categories: { rank: { sms: true } } }, 'categories.rank.sms'],
    [{ categories: { rank: { pigeon: true } } }, 'pigeon'],
    [{ categories: { gossip: { push: true } } }, 'gossip'],
    [{ quietHours: { start: '22:00', end: '22:00' } }, 'quietHours'],
    [{ quietHours: { start: '25:00', end: '07:00' } }, 'start'],
    [{ dailyCap: 'ten' }, 'dailyCap'],
    [{ dailyCap: 101 }, 'dailyCap'],
    [{ colour: 'blue' }, 'colour'],
    [{}, 'fewer than 1']
  ] as const) {
    const res = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json().message + JSON.stringify(res.json().details ?? []), names)
  }
  const after = await app.inject({ url, headers: ada.headers })
  t.same(after.json(), cleared.json(), 'refused changes changed nothing')

  const bob = await signIn(app)
  t.equal((await app.inject({ url, headers: bob.headers })).statusCode, 403, 'another user may not read them')
  t.equal((await app.inject({ method: 'PATCH', url, headers: bob.headers, payload: { dailyCap: 1 } })).statusCode, 403)
})

test('push devices: registered, refreshed, moved to whoever signs in, capped per user and removed', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const ada = await signIn(app)
  const bob = await signIn(app)
  const devices = (p: { id: string }) => `/api/v1/users/${p.id}/devices`
  const register = async (p: typeof ada, payload: Record<string, unknown>) =>
    await app.inject({ method: 'POST', url: devices(p), headers: p.headers, payload: { platform: 'ios', appVersion: '2.4.1', ...payload } })

  t.equal((await register(ada, { provider: 'fcm', token: EXPO_TOKEN })).statusCode, 400, 'an Expo token is not an FCM token')
  t.equal((await register(ada, { provider: 'expo', token: 'fcm-token-1' })).statusCode, 400, 'nor the other way round')
  t.equal((await register(ada, { provider: 'expo', token: EXPO_TOKEN, platform: 'symbian' })).statusCode, 400)
  t.equal((await register(ada, { provider: 'expo', token: EXPO_TOKEN, extra: 1 })).statusCode, 400)

  const first = await register(ada, { provider: 'expo', token: EXPO_TOKEN })
  t.equal(first.statusCode, 201, first.body)
  t.notOk('token' in first.json(), 'tokens are never shown')
  const again = await register(ada, { provider: 'expo', token: EXPO_TOKEN, appVersion: '2.5.0' })
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().appVersion, '2.5.0')

  const moved = await register(bob, { provider: 'expo', token: EXPO_TOKEN })
  t.equal(moved.statusCode, 200)
  t.same((await app.inject({ url: devices(ada), headers: ada.headers })).json().items, [], 'the install now belongs to bob')
  t.equal((await app.inject({ url: devices(bob), headers: bob.headers })).json().items.length, 1)

  for (let i = 0; i < 12; i++) t.equal((await register(ada, { provider: 'fcm', token: `fcm-token-${i}`, platform: 'android' })).statusCode, 201)
  const kept = (await app.inject({ url: devices(ada), headers: ada.headers })).json().items
  t.equal(kept.length, 10, 'ten installs kept')
  const { rows } = await app.pg.query('SELECT token FROM push_devices WHERE user_id = $1', [ada.id])
  t.notOk(rows.some((r) => r.token === 'fcm-token-0' || r.token === 'fcm-token-1'), 'the two seen longest ago went')

  t.equal((await register(bob, { provider: 'fcm', token: 'bobs' })).statusCode, 201)
  t.equal((await app.inject({ method: 'POST', url: devices(ada), headers: bob.headers, payload: { provider: 'fcm', token: 'x', platform: 'ios', appVersion: '1' } })).statusCode, 403,
    'nobody registers devices for someone else')
  const id = kept[0].id
  t.equal((await app.inject({ method: 'DELETE', url: `${devices(ada)}/${id}`, headers: bob.headers })).statusCode, 403)
  t.equal((await app.inject({ method: 'DELETE', url: `${devices(ada)}/${id}`, headers: ada.headers })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: `${devices(ada)}/${id}`, headers: ada.headers })).statusCode, 404)
})

test('the profile holds the language and the SMS number, refused when malformed', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const ada = await signIn(app)
  const url = `/api/v1/users/${ada.id}/profile`
  const set = await app.inject({ method: 'PUT', url, headers: ada.headers, payload: { locale: 'es', phoneNumber: '+14155550100' } })
  t.equal(set.statusCode, 200, set.body)
  t.equal(set.json().locale, 'es')
  t.equal(set.json().phoneNumber, '+14155550100')
  for (const payload of [{ locale: 'Spanish' }, { phoneNumber: '4155550100' }, { phoneNumber: '+0123' }, { locale: 7 }]) {
    const res = await app.inject({ method: 'PUT', url, headers: ada.headers, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
  }
  const removed = await app.inject({ method: 'PUT', url, headers: ada.headers, payload: { phoneNumber: null } })
  t.equal(removed.json().phoneNumber, null)
  t.equal(removed.json().locale, 'es')
})
