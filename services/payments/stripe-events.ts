import type Stripe from 'stripe'
import { errors } from '../../lib/errors.ts'
import type { JobQueue } from '../shared/jobs.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { stripeErrorType, type Gateway } from './gateway.ts'
import type { GatewayMovements } from './gateway-movements.ts'

export const STRIPE_EVENT_QUEUE = 'payments.stripe-event'
export interface StripeEventJob { eventId: string }

export type StripeEventHandler = (tx: Db, event: Stripe.Event) => Promise<void>

// Receiving: the signature is checked over the raw body (timestamp within the tolerance) with
// each configured endpoint secret (the platform's and the Connect endpoint's); the event is
// stored once per id and handed to a job in the same transaction. A redelivery finds the id
// stored and does nothing.
export function createStripeEventReceiver ({ gateway, secrets, toleranceSeconds, transact, jobs }: {
  gateway: Pick<Gateway, 'webhooks'>
  secrets: string[]
  toleranceSeconds: number
  transact: Transact
  jobs: JobQueue
}) {
  function verify (rawBody: Buffer, signature: string): Stripe.Event {
    for (const secret of secrets) {
      try {
        return gateway.webhooks.constructEvent(rawBody, signature, secret, toleranceSeconds)
      } catch (err) {
        if (stripeErrorType(err) !== 'StripeSignatureVerificationError') throw err
      }
    }
    throw errors.BadRequest('Stripe-Signature does not match this endpoint, or its timestamp is outside the tolerance')
  }

  async function receive (rawBody: Buffer, signature: string | undefined): Promise<{ duplicate: boolean }> {
    if (signature === undefined || signature === '') throw errors.BadRequest('Missing Stripe-Signature header')
    const event = verify(rawBody, signature)
    return await transact(async (tx) => {
      const { rows } = await tx.query(`INSERT INTO stripe_events (id, type, account, payload) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO NOTHING RETURNING id`, [event.id, event.type, event.account ?? null, JSON.stringify(event)])
      if (rows.length === 0) return { duplicate: true }
      await jobs.send(tx, STRIPE_EVENT_QUEUE, { eventId: event.id } satisfies StripeEventJob)
      return { duplicate: false }
    })
  }

  return { receive }
}

// Processing, as a job: the stored event is locked, handled and marked processed in one
// transaction, so a retried job after a crash either finds it done or does it whole.
export function createStripeEventProcessor ({ transact, handlers }: {
  transact: Transact
  handlers: Partial<Record<string, StripeEventHandler>>
}) {
  return async function processStripeEvent ({ eventId }: StripeEventJob): Promise<void> {
    await transact(async (tx) => {
      const { rows: [row] } = await tx.query<{ payload: Stripe.Event, processed_at: Date | null }>(
        'SELECT payload, processed_at FROM stripe_events WHERE id = $1 FOR UPDATE', [eventId])
      if (!row || row.processed_at !== null) return
      await handlers[row.payload.type]?.(tx, row.payload)
      await tx.query('UPDATE stripe_events SET processed_at = now() WHERE id = $1', [eventId])
    })
  }
}

// The handlers for deposits, refunds and disputes.
export function depositHandlers (movements: GatewayMovements): Partial<Record<string, StripeEventHandler>> {
  return {
    'payment_intent.succeeded': async (tx, e) => { await movements.credit(tx, e.data.object as Stripe.PaymentIntent) },
    'payment_intent.payment_failed': async (tx, e) => { await movements.fail(tx, e.data.object as Stripe.PaymentIntent) },
    'charge.refunded': async (tx, e) => { await movements.refunded(tx, e.data.object as Stripe.Charge) },
    'charge.dispute.created': async (tx, e) => { await movements.disputeOpened(tx, e.data.object as Stripe.Dispute) },
    'charge.dispute.closed': async (tx, e) => { await movements.disputeClosed(tx, e.data.object as Stripe.Dispute) }
  }
}
