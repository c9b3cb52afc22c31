import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'

// Messages as the Standard Webhooks specification has them: a JSON body { type, timestamp,
// data } and three headers. webhook-id is the delivery's id, the same on every retry and replay,
// so receivers deduplicate on it; webhook-timestamp is the moment of this attempt, so receivers
// can refuse old messages; webhook-signature is signed over id, timestamp and body.

export interface StoredEvent {
  id: string
  type: string
  occurredAt: Date
  payload: Record<string, unknown>
}

export function newSecret (): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

// Built from the stored event alone, so every attempt of a delivery sends the same body.
export function messageBody (event: StoredEvent): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: { ...event.payload, eventId: event.id }
  })
}

export function signedHeaders (secret: string, deliveryId: string, body: string, now: Date = new Date()): Record<string, string> {
  // The specification's timestamps are whole seconds; the signature covers the same value.
  const timestamp = new Date(Math.floor(now.getTime() / 1000) * 1000)
  return {
    'webhook-id': deliveryId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': new Webhook(secret).sign(deliveryId, timestamp, body)
  }
}
