import { errors } from '../../lib/errors.ts'
import type { WebhookDelivery } from '../../schemas/webhooks.ts'
import type { DomainEventType } from '../../schemas/domain-events.ts'
import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { RelayedEvent } from '../shared/event-relay.ts'
import type { JobQueue } from '../shared/jobs.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { PageQuery } from './endpoints.ts'

// Deliveries: one row per (endpoint, event), made by the fan-out of each domain event and sent
// by a job each (delivery-attempts.ts). The row is the delivery's log: attempts, last answer.

export const DELIVER_QUEUE = 'webhooks.deliver'
export interface DeliverJob { deliveryId: string }

export interface DeliveriesDeps {
  pool: Db
  transact: Transact
  jobs: Pick<JobQueue, 'send' | 'sendMany'>
}

const COLUMNS = `d.id, d.endpoint_id, d.event_id, ev.type AS event_type, d.status, d.attempts, d.last_status_code,
  d.last_error, d.last_attempt_at, d.delivered_at, d.created_at, to_json(d.created_at) #>> '{}' AS cursor_ts`

interface DeliveryRow {
  id: string
  endpoint_id: string
  event_id: string
  event_type: string
  status: WebhookDelivery['status']
  attempts: number
  last_status_code: number | null
  last_error: string | null
  last_attempt_at: Date | null
  delivered_at: Date | null
  created_at: Date
  cursor_ts: string
}

function toDelivery (row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type as WebhookDelivery['eventType'],
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString()
  }
}

export function createWebhookDeliveriesService ({ pool, transact, jobs }: DeliveriesDeps) {
  // One delivery per enabled endpoint subscribed to the event's type, and a job for each new
  // one, in one transaction: a second run (a retried consumer job) finds the rows there and
  // sends nothing twice. A disabled endpoint gets none.
  async function fanOut (event: Pick<RelayedEvent, 'id' | 'type'>): Promise<number> {
    return await transact(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(`INSERT INTO webhook_deliveries (endpoint_id, event_id)
        SELECT id, $1 FROM webhook_endpoints WHERE enabled AND $2 = ANY (event_types)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id`, [event.id, event.type])
      await jobs.sendMany(tx, DELIVER_QUEUE, rows.map((r) => ({ data: { deliveryId: r.id } satisfies DeliverJob })))
      return rows.length
    })
  }

  // The event types some enabled endpoint takes: the relay makes fan-out jobs for these only.
  async function subscribedTypes (db: Db): Promise<Set<DomainEventType>> {
    const { rows } = await db.query<{ type: DomainEventType }>('SELECT DISTINCT unnest(event_types) AS type FROM webhook_endpoints WHERE enabled')
    return new Set(rows.map((r) => r.type))
  }

  // An endpoint's deliveries, newest first.
  async function list (endpointId: string, page: PageQuery): Promise<Page<WebhookDelivery>> {
    const request = pageRequest(page.cursor, ['string', 'string'])
    const { rows } = await pool.query<DeliveryRow>(`SELECT ${COLUMNS}
      FROM webhook_deliveries d JOIN domain_events ev ON ev.id = d.event_id
      WHERE d.endpoint_id = $1 AND ($2::timestamptz IS NULL OR (d.created_at, d.id) ${request.compare} ($2, $3::uuid))
      ORDER BY d.created_at ${request.order}, d.id ${request.order} LIMIT $4`, [endpointId, request.key?.[0] ?? null, request.key?.[1] ?? null, page.limit + 1])
    if (rows.length === 0) {
      const { rowCount } = await pool.query('SELECT 1 FROM webhook_endpoints WHERE id = $1', [endpointId])
      if (rowCount === 0) throw errors.NotFound('Webhook endpoint not found')
    }
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [r.cursor_ts, r.id])
    return { items: shown.map(toDelivery), nextCursor, prevCursor }
  }

  // Sends a delivery again: same webhook-id, same body, its attempts counting on. A new job with
  // its own retries; the endpoint must be enabled (re-enable it first).
  async function replay (deliveryId: string): Promise<WebhookDelivery> {
    return await transact(async (tx) => {
      const { rows } = await tx.query<{ enabled: boolean }>(`SELECT ep.enabled FROM webhook_deliveries d
        JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE d.id = $1 FOR UPDATE OF d`, [deliveryId])
      if (rows[0] === undefined) throw errors.NotFound('Webhook delivery not found')
      if (!rows[0].enabled) throw errors.Conflict('The endpoint is disabled: re-enable it before replaying its deliveries')
      await tx.query('UPDATE webhook_deliveries SET status = \'pending\' WHERE id = $1', [deliveryId])
      await jobs.send(tx, DELIVER_QUEUE, { deliveryId } satisfies DeliverJob)
      return await getDelivery(tx, deliveryId)
    })
  }

  async function getDelivery (db: Db, deliveryId: string): Promise<WebhookDelivery> {
    const { rows } = await db.query<DeliveryRow>(`SELECT ${COLUMNS} FROM webhook_deliveries d
      JOIN domain_events ev ON ev.id = d.event_id WHERE d.id = $1`, [deliveryId])
    if (rows[0] === undefined) throw errors.NotFound('Webhook delivery not found')
    return toDelivery(rows[0])
  }

  return { fanOut, subscribedTypes, list, replay, get: async (deliveryId: string) => await getDelivery(pool, deliveryId) }
}

export type WebhookDeliveriesService = ReturnType<typeof createWebhookDeliveriesService>
