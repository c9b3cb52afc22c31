import type { JobAttempt } from '../shared/jobs.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { DeliverJob } from './deliveries.ts'
import { messageBody, signedHeaders } from './messages.ts'
import type { WebhookSender } from './sender.ts'
import type { WebhookMetrics } from '../shared/metrics.ts'

// One attempt of one delivery, run as the `webhooks.deliver` job. A 2xx answer delivers it;
// anything else (another status, a timeout, a reset, a refused address) is recorded on the row
// and thrown, so the job queue retries it with backoff. The last retry marks the delivery
// failed and disables its endpoint, saying why, until an admin re-enables it.

export interface DeliveryAttemptsDeps {
  pool: Db
  transact: Transact
  send: WebhookSender
  metrics: WebhookMetrics
  clock?: () => Date
}

interface DeliveryToSend {
  id: string
  status: string
  attempts: number
  created_at: Date
  endpoint_id: string
  url: string
  secret: string
  enabled: boolean
  disabled_reason: string | null
  event_id: string
  type: string
  payload: Record<string, unknown>
  occurred_at: Date
}

const LOAD = `SELECT d.id, d.status, d.attempts, d.created_at, ep.id AS endpoint_id, ep.url, ep.secret, ep.enabled,
    ep.disabled_reason, ev.id AS event_id, ev.type, ev.payload, ev.occurred_at
  FROM webhook_deliveries d
  JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
  JOIN domain_events ev ON ev.id = d.event_id
  WHERE d.id = $1`

// Kept short: the row is a log line, not an archive of the receiver's error pages.
const ERROR_MAX = 500

function describe (err: unknown): string {
  const e = err as Error & { code?: string }
  return (e.code !== undefined && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message).slice(0, ERROR_MAX)
}

export function createDeliveryAttempts ({ pool, transact, send, metrics, clock = () => new Date() }: DeliveryAttemptsDeps) {
  async function record (id: string, outcome: { statusCode: number | null, error: string | null, delivered: boolean }): Promise<number> {
    const { rows } = await pool.query<{ attempts: number }>(`UPDATE webhook_deliveries SET attempts = attempts + 1,
        last_status_code = $2, last_error = $3, last_attempt_at = now(),
        status = CASE WHEN $4 THEN 'delivered' ELSE status END,
        delivered_at = CASE WHEN $4 THEN now() ELSE delivered_at END
      WHERE id = $1 RETURNING attempts`, [id, outcome.statusCode, outcome.error, outcome.delivered])
    return rows[0]?.attempts ?? 0
  }

  // The last retry is spent: the delivery has failed, and its endpoint stops getting new ones.
  async function giveUp (delivery: DeliveryToSend, attempts: number, error: string): Promise<void> {
    const reason = `delivery ${delivery.id} failed ${attempts} times since ${delivery.created_at.toISOString()}: ${error}`
    await transact(async (tx) => {
      await tx.query('UPDATE webhook_deliveries SET status = \'failed\' WHERE id = $1 AND status = \'pending\'', [delivery.id])
      await tx.query(`UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
        WHERE id = $1 AND enabled`, [delivery.endpoint_id, reason])
    })
  }

  return async function deliver ({ deliveryId }: DeliverJob, attempt: JobAttempt): Promise<void> {
    const { rows } = await pool.query<DeliveryToSend>(LOAD, [deliveryId])
    const delivery = rows[0]
    // Gone with its endpoint, or settled by another run (a replay racing a retry).
    if (delivery === undefined || delivery.status !== 'pending') return
    if (!delivery.enabled) {
      await pool.query(`UPDATE webhook_deliveries SET status = 'failed', last_error = $2
        WHERE id = $1 AND status = 'pending'`, [deliveryId, `not sent: the endpoint is disabled (${delivery.disabled_reason ?? 'no reason given'})`.slice(0, ERROR_MAX)])
      return
    }

    const body = messageBody({ id: delivery.event_id, type: delivery.type, occurredAt: delivery.occurred_at, payload: delivery.payload })
    let statusCode: number | null = null
    let error: string
    try {
      const answer = await send(delivery.url, signedHeaders(delivery.secret, delivery.id, body, clock()), body)
      statusCode = answer.statusCode
      if (statusCode >= 200 && statusCode < 300) {
        await record(deliveryId, { statusCode, error: null, delivered: true })
        metrics.attempts.inc({ outcome: 'delivered' })
        return
      }
      error = `HTTP ${statusCode}${answer.body === '' ? '' : `: ${answer.body}`}`.slice(0, ERROR_MAX)
    } catch (err) {
      error = describe(err)
    }
    const attempts = await record(deliveryId, { statusCode, error, delivered: false })
    if (attempt.retryCount >= attempt.retryLimit) {
      await giveUp(delivery, attempts, error)
      metrics.attempts.inc({ outcome: 'given_up' })
      metrics.disabled.inc()
      return
    }
    metrics.attempts.inc({ outcome: 'failed' })
    throw new Error(`webhook delivery ${deliveryId} attempt ${attempts} failed: ${error}`)
  }
}
