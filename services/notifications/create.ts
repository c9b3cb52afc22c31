import type { Db } from '../shared/transactions.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { CHANNELS, DEFAULT_PREFERENCES, channelAllowed, isRoutine, type Category, type Channel } from './categories.ts'
import type { Params, TemplateName } from './templates.ts'

// Turns "this happened to these users" into inbox rows and queued deliveries, set-based, in the
// caller's transaction. Each (user, cause) gets one notification however often a cause is
// handled (a retried job, a restarted instance), and each notification one delivery per
// channel, so nothing is ever sent twice. Who gets what where is decided in SQL: preferences
// over the defaults, a device or address to send to, the daily cap and quiet hours, both in
// the user's own time zone (DST included).

export const SEND_QUEUE = 'notifications.send'

// The most deliveries one send job carries: FCM and Expo take batches, email and SMS go one
// request each.
export const SEND_BATCH: Record<Channel, number> = { push: 500, email: 100, sms: 50 }

export interface Recipient { userId: string, params: Params }

export interface NotificationBatch {
  // What it is about, unique per user: `<event type>:<event id>`, `starting_soon:<competition>:<start>`.
  cause: string
  category: Category
  template: TemplateName
  competitionId: string | null
  recipients: Recipient[]
}

export interface CreatedNotification { id: string, userId: string }

const INSERT_NOTIFICATIONS = `INSERT INTO notifications (user_id, cause, category, template, params, competition_id)
  SELECT r.user_id, $1, $2, $3, r.params, $4
  FROM unnest($5::uuid[], $6::jsonb[]) AS r(user_id, params)
  ON CONFLICT (user_id, cause) DO NOTHING
  RETURNING id, user_id`

// $1 notification ids, $2 their users, $3 channels considered, $4 their defaults, $5 category,
// $6 routine (capped and held by quiet hours).
const PLAN_DELIVERIES = `WITH created AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS c(id, user_id)
  ), wanted AS (
    SELECT c.id, c.user_id, ch.channel, u.time_zone, s.quiet_start, s.quiet_end,
      COALESCE(s.daily_cap, 10) AS daily_cap,
      (now() AT TIME ZONE u.time_zone) AS local_now
    FROM created c
    JOIN users u ON u.id = c.user_id
    CROSS JOIN unnest($3::text[], $4::boolean[]) AS ch(channel, enabled_by_default)
    LEFT JOIN notification_preferences p ON p.user_id = c.user_id AND p.category = $5 AND p.channel = ch.channel
    LEFT JOIN notification_settings s ON s.user_id = c.user_id
    WHERE COALESCE(p.enabled, ch.enabled_by_default)
      AND CASE ch.channel
        WHEN 'push' THEN EXISTS (SELECT 1 FROM push_devices d WHERE d.user_id = c.user_id)
        WHEN 'email' THEN u.email IS NOT NULL
        ELSE u.phone_number IS NOT NULL END
  ), counted AS (
    -- The daily cap: one more routine message per channel and local day, while under the cap.
    INSERT INTO notification_daily_counts AS n (user_id, channel, day, sent)
    SELECT user_id, channel, local_now::date, 1 FROM wanted WHERE $6 AND daily_cap > 0
    ON CONFLICT (user_id, channel, day) DO UPDATE SET sent = n.sent + 1
      WHERE n.sent < COALESCE((SELECT daily_cap FROM notification_settings s WHERE s.user_id = n.user_id), 10)
    RETURNING user_id, channel
  ), timed AS (
    SELECT w.*, extract(hour FROM local_now)::int * 60 + extract(minute FROM local_now)::int AS minute,
      (NOT $6 OR c.user_id IS NOT NULL) AS within_cap
    FROM wanted w LEFT JOIN counted c ON c.user_id = w.user_id AND c.channel = w.channel
  )
  INSERT INTO notification_deliveries (notification_id, channel, status, reason, send_after)
  SELECT id, channel,
    CASE WHEN within_cap THEN 'queued' ELSE 'skipped' END,
    CASE WHEN within_cap THEN NULL ELSE 'daily_cap' END,
    CASE WHEN $6 AND quiet_start IS NOT NULL AND (
        (quiet_start < quiet_end AND minute >= quiet_start AND minute < quiet_end) OR
        (quiet_start > quiet_end AND (minute >= quiet_start OR minute < quiet_end)))
      -- The end of the quiet hours, today or tomorrow, as local wall time in the user's zone.
      THEN (date_trunc('day', local_now) + quiet_end * interval '1 minute'
        + CASE WHEN minute >= quiet_end THEN interval '1 day' ELSE interval '0' END) AT TIME ZONE time_zone
      ELSE now() END
  FROM timed
  RETURNING notification_id, channel, status, send_after`

interface PlannedRow { notification_id: string, channel: Channel, status: string, send_after: Date }

// Creates the batch's notifications and deliveries on `channels` (the ones this instance can
// send on) and enqueues their send jobs; the notifications that are new.
export async function createNotifications (tx: Db, jobs: Pick<JobQueue, 'sendMany'>, batch: NotificationBatch, channels: readonly Channel[]): Promise<CreatedNotification[]> {
  const recipients = [...new Map(batch.recipients.map((r) => [r.userId, r])).values()]
  if (recipients.length === 0) return []
  const { rows } = await tx.query<{ id: string, user_id: string }>(INSERT_NOTIFICATIONS, [batch.cause, batch.category, batch.template,
    batch.competitionId, recipients.map((r) => r.userId), recipients.map((r) => JSON.stringify(r.params))])
  const created = rows.map((r) => ({ id: r.id, userId: r.user_id }))
  const considered = CHANNELS.filter((c) => channels.includes(c) && channelAllowed(batch.category, c))
  if (created.length === 0 || considered.length === 0) return created
  const planned = await tx.query<PlannedRow>(PLAN_DELIVERIES, [created.map((c) => c.id), created.map((c) => c.userId),
    considered, considered.map((c) => DEFAULT_PREFERENCES[batch.category][c]), batch.category, isRoutine(batch.category)])
  await enqueueSends(tx, jobs, planned.rows.filter((r) => r.status === 'queued')
    .map((r) => ({ notificationId: r.notification_id, channel: r.channel, sendAfter: r.send_after })))
  return created
}

export interface SendJob { channel: Channel, ids: string[] }

// One job per channel, start time and batch of deliveries.
export async function enqueueSends (tx: Db, jobs: Pick<JobQueue, 'sendMany'>, deliveries: Array<{ notificationId: string, channel: Channel, sendAfter: Date }>): Promise<void> {
  const groups = new Map<string, { channel: Channel, sendAfter: Date, ids: string[] }>()
  for (const d of deliveries) {
    const key = `${d.channel}|${d.sendAfter.getTime()}`
    const group = groups.get(key) ?? { channel: d.channel, sendAfter: d.sendAfter, ids: [] }
    group.ids.push(d.notificationId)
    groups.set(key, group)
  }
  const batch: Array<{ data: SendJob, startAfter?: Date }> = []
  for (const { channel, sendAfter, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += SEND_BATCH[channel]) {
      batch.push({ data: { channel, ids: ids.slice(i, i + SEND_BATCH[channel]) }, ...(sendAfter.getTime() > Date.now() && { startAfter: sendAfter }) })
    }
  }
  await jobs.sendMany(tx, SEND_QUEUE, batch)
}
