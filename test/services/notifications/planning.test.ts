import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { TEST_CONFIG } from '../../routes/competitions/fixtures.ts'
import { createNotifications, type NotificationBatch } from '../../../services/notifications/create.ts'
import type { Category } from '../../../services/notifications/categories.ts'

// Who gets what where and when, decided in SQL in the user's own time zone: quiet hours hold
// routine messages until their end (wrapping past midnight too), money and security go at once,
// a daily cap per channel and local day, preferences over the defaults, an address or device
// needed per channel. No jobs run here: the deliveries are read as planned.

const CHANNELS = ['push', 'email', 'sms'] as const
const MINUTE = 60_000

function localMinute (timeZone: string, at = new Date()): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at)
  return Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value)
}

function localDay (timeZone: string, at = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at)
}

async function user (app: FastifyInstance, opts: { timeZone?: string, quiet?: [number, number], cap?: number, email?: boolean, phone?: boolean, push?: boolean } = {}): Promise<string> {
  const id = randomUUID()
  await app.pg.query('INSERT INTO users (id, email, phone_number, time_zone) VALUES ($1, $2, $3, $4)',
    [id, opts.email === false ? null : `${id}@example.com`, opts.phone === true ? '+14155550100' : null, opts.timeZone ?? 'UTC'])
  if (opts.push !== false) {
    await app.pg.query('INSERT INTO push_devices (user_id, provider, token, platform, app_version) VALUES ($1, \'fcm\', $2, \'android\', \'1\')', [id, `tok-${id}`])
  }
  if (opts.quiet !== undefined || opts.cap !== undefined) {
    await app.pg.query('INSERT INTO notification_settings (user_id, quiet_start, quiet_end, daily_cap) VALUES ($1, $2, $3, $4)',
      [id, opts.quiet?.[0] ?? null, opts.quiet?.[1] ?? null, opts.cap ?? 10])
  }
  return id
}

async function notify (app: FastifyInstance, userIds: string[], category: Category = 'competition', cause = randomUUID()) {
  const batch: NotificationBatch = { cause, category, template: 'started', competitionId: null, recipients: userIds.map((userId) => ({ userId, params: { competitionName: 'X' } })) }
  return await app.pg.transact(async (tx) => await createNotifications(tx, app.jobs, batch, CHANNELS))
}

async function deliveries (app: FastifyInstance, userId: string): Promise<Array<{ channel: string, status: string, reason: string | null, send_after: Date, category: string }>> {
  const { rows } = await app.pg.query(`SELECT d.channel, d.status, d.reason, d.send_after, n.category FROM notification_deliveries d
    JOIN notifications n ON n.id = d.notification_id WHERE n.user_id = $1 ORDER BY n.created_at, d.channel`, [userId])
  return rows
}

test('quiet hours hold routine messages until their end in the user\'s own zone; money and security go at once', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, JOB_WORKERS: false } })
  // Zones on every side of UTC, with half- and quarter-hour offsets.
  for (const timeZone of ['America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Auckland', 'America/Sao_Paulo', 'UTC']) {
    const m = localMinute(timeZone)
    // Now is inside: started ten minutes ago, ends in an hour (the window may wrap past midnight).
    const inside = await user(app, { timeZone, quiet: [(m + 1430) % 1440, (m + 60) % 1440] })
    // Now is outside: the window starts in an hour.
    const outside = await user(app, { timeZone, quiet: [(m + 60) % 1440, (m + 120) % 1440] })
    // A window from ten minutes ago to twenty minutes ago tomorrow: nearly a whole day.
    const longWindow = await user(app, { timeZone, quiet: [(m + 1430) % 1440, (m + 1420) % 1440] })
    const before = Date.now()
    await notify(app, [inside, outside, longWindow])
    await notify(app, [inside], 'money')

    const [push] = (await deliveries(app, inside)).filter((d) => d.category === 'competition' && d.channel === 'push')
    const due = new Date(Math.floor((before + 60 * MINUTE) / MINUTE) * MINUTE).getTime()
    t.ok(Math.abs(push!.send_after.getTime() - due) <= MINUTE, `${timeZone}: held until the end of quiet hours (${push!.send_after.toISOString()})`)
    t.equal(push!.status, 'queued')
    // The send itself waits: its job starts when the quiet hours end, not now.
    const { rows: [job] } = await app.pg.query(`SELECT start_after FROM pgboss.job WHERE name = 'notifications.send'
      AND data->>'channel' = 'push' AND data->'ids' ? (SELECT id::text FROM notifications WHERE user_id = $1 AND category = 'competition')`, [inside])
    t.equal(job?.start_after.getTime(), push!.send_after.getTime(), `${timeZone}: the send job starts at the end of the quiet hours`)
    for (const d of (await deliveries(app, inside)).filter((d) => d.category === 'money')) {
      t.ok(d.send_after.getTime() <= Date.now(), `${timeZone}: money ${d.channel} is not held`)
    }
    for (const d of await deliveries(app, outside)) t.ok(d.send_after.getTime() <= Date.now(), `${timeZone}: outside quiet hours it goes now`)
    const [held] = await deliveries(app, longWindow)
    const nextDay = held!.send_after.getTime() - before
    t.ok(nextDay > 23 * 60 * MINUTE && nextDay < 25 * 60 * MINUTE, `${timeZone}: a window ending tomorrow holds it until tomorrow (${Math.round(nextDay / MINUTE)} min)`)
  }
})

test('the daily cap counts routine messages per channel and local day; money is never capped', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, JOB_WORKERS: false } })
  // Fourteen hours ahead of UTC and eleven behind: a day apart for most of the day.
  for (const timeZone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
    const ada = await user(app, { timeZone, cap: 2 })
    // Yesterday's count, at the cap, does not hold today's messages back.
    const yesterday = localDay(timeZone, new Date(Date.now() - 86400_000))
    await app.pg.query('INSERT INTO notification_daily_counts (user_id, channel, day, sent) VALUES ($1, \'push\', $2, 2)', [ada, yesterday])
    for (let i = 0; i < 3; i++) await notify(app, [ada])
    await notify(app, [ada], 'money')
    const all = await deliveries(app, ada)
    const routinePush = all.filter((d) => d.category === 'competition' && d.channel === 'push')
    t.same(routinePush.map((d) => d.status), ['queued', 'queued', 'skipped'], `${timeZone}: the third routine push of the day is not sent`)
    t.equal(routinePush[2]!.reason, 'daily_cap')
    t.same(all.filter((d) => d.category === 'money').map((d) => d.status), ['queued', 'queued'], 'money goes whatever the cap')
    const { rows } = await app.pg.query('SELECT day::text, sent FROM notification_daily_counts WHERE user_id = $1 AND channel = \'push\' ORDER BY day', [ada])
    t.same(rows, [{ day: yesterday, sent: 2 }, { day: localDay(timeZone), sent: 2 }], `${timeZone}: counted on the user's local day`)
  }
  const none = await user(app, { cap: 0 })
  await notify(app, [none])
  t.same((await deliveries(app, none)).map((d) => [d.channel, d.status, d.reason]), [['push', 'skipped', 'daily_cap']], 'a cap of 0: no routine push at all')
  t.equal((await app.pg.query('SELECT count(*)::int AS n FROM notifications WHERE user_id = $1', [none])).rows[0].n, 1, 'still in the inbox')
})

test('channels follow preferences and need somewhere to send; SMS only for money and security; a cause is told once', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, JOB_WORKERS: false } })
  const full = await user(app, { phone: true })
  const bare = await user(app, { email: false, push: false, phone: false })
  const cause = randomUUID()
  await notify(app, [full, bare], 'competition', cause)
  t.same((await deliveries(app, full)).map((d) => d.channel), ['push'], 'competition: push by default, no SMS')
  t.same(await deliveries(app, bare), [], 'no device, no address: inbox only')

  const again = await notify(app, [full, bare], 'competition', cause)
  t.same(again, [], 'the same cause again creates nothing')
  t.equal((await deliveries(app, full)).length, 1)

  await notify(app, [full], 'security')
  t.same((await deliveries(app, full)).filter((d) => d.category === 'security').map((d) => d.channel), ['email', 'push', 'sms'])

  await app.pg.query(`INSERT INTO notification_preferences (user_id, category, channel, enabled)
    VALUES ($1, 'money', 'push', false), ($1, 'money', 'sms', true), ($1, 'money', 'email', false)`, [full])
  await notify(app, [full], 'money')
  t.same((await deliveries(app, full)).filter((d) => d.category === 'money').map((d) => d.channel), ['sms'], 'the user\'s choices over the defaults')
})
