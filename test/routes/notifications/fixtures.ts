import type { FastifyInstance } from 'fastify'
import { until } from '../webhooks/receiver.ts'
import { REMINDERS_QUEUE } from '../../../services/notifications/triggers.ts'

// Shared steps of the notification tests.

export interface InboxRow { id: string, user_id: string, template: string, category: string, cause: string, params: Record<string, any> }

// Every domain event so far has been relayed and every job it made has run, reminders that are
// due included (a consumer schedules them; one due now must have sent before a test looks).
export async function settled (app: FastifyInstance): Promise<void> {
  await until('events relayed and their jobs done', async () => {
    await app.jobs.relay.settled()
    const { rows: [pending] } = await app.pg.query(`SELECT
      (SELECT count(*) FROM domain_events WHERE relayed_at IS NULL)::int AS events,
      (SELECT count(*) FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND (name LIKE 'events.notifications%'
        OR (name = $1 AND start_after <= now())))::int AS jobs`, [REMINDERS_QUEUE])
    return pending.events === 0 && pending.jobs === 0
  })
}

export async function notificationsOf (app: FastifyInstance, where = 'true', values: unknown[] = []): Promise<InboxRow[]> {
  const { rows } = await app.pg.query<InboxRow>(`SELECT id, user_id, template, category, cause, params FROM notifications WHERE ${where} ORDER BY created_at, id`, values)
  return rows
}

export async function deliveriesOf (app: FastifyInstance, userId: string): Promise<Array<{ template: string, channel: string, status: string, reason: string | null, send_after: Date, provider_ids: string[] }>> {
  const { rows } = await app.pg.query(`SELECT n.template, d.channel, d.status, d.reason, d.send_after, d.provider_ids
    FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.user_id = $1 ORDER BY n.created_at, d.channel`, [userId])
  return rows
}

// Every send job so far has run (retries due within the wait included).
export async function sendsDone (app: FastifyInstance, timeoutMs = 30_000): Promise<void> {
  await until('notification sends done', async () => {
    const { rows: [r] } = await app.pg.query(`SELECT
      (SELECT count(*) FROM notification_deliveries WHERE status IN ('queued', 'sending'))::int AS open`)
    return r.open === 0
  }, timeoutMs)
}
