import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'
import { DOMAIN_EVENT_TYPES, DomainEventSchemas, type DomainEventType } from './domain-events.ts'

// Outbound webhooks: the endpoints admins register and the log of what was sent to them. The
// messages themselves follow the Standard Webhooks specification (webhookMessageSchema below).

export const EventTypeSchema = Type.Enum(DOMAIN_EVENT_TYPES, { description: 'A domain event type' })
const EventTypesSchema = Type.Array(EventTypeSchema, {
  minItems: 1,
  uniqueItems: true,
  description: 'The event types sent to this endpoint',
  examples: [['competition.final', 'prize.paid']]
})
const UrlSchema = Type.String({
  minLength: 1,
  maxLength: 2000,
  description: 'Where deliveries are POSTed: https, on a host whose every address is public',
  examples: ['https://93.184.215.14/health-competitions']
})
const DescriptionSchema = Type.String({ maxLength: 500, examples: ['Results feed for the partner app'] })

const ENDPOINT_EXAMPLE = {
  id: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
  url: 'https://93.184.215.14/health-competitions',
  eventTypes: ['competition.final', 'prize.paid'],
  description: 'Results feed for the partner app',
  enabled: true,
  disabledReason: null,
  disabledAt: null,
  createdBy: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
  createdAt: '2026-11-02T08:30:00.000Z',
  updatedAt: '2026-11-02T08:30:00.000Z'
}
const SECRET_EXAMPLE = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

const endpointProperties = {
  id: UuidSchema,
  url: Type.String(),
  eventTypes: Type.Array(EventTypeSchema),
  description: Type.String(),
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()], { description: 'Why deliveries stopped (retries exhausted, an admin); null while enabled' }),
  disabledAt: Type.Union([TimestampSchema, Type.Null()]),
  createdBy: Type.Union([UuidSchema, Type.Null()]),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema
}

export const WebhookEndpointSchema = Type.Object(endpointProperties, { title: 'WebhookEndpoint', examples: [ENDPOINT_EXAMPLE] })
export type WebhookEndpoint = Static<typeof WebhookEndpointSchema>

// Only the answers to creating an endpoint and rotating its secret show the secret.
export const WebhookEndpointWithSecretSchema = Type.Object({
  ...endpointProperties,
  secret: Type.String({ description: 'Signing secret (whsec_ + base64): shown only here, keep it' })
}, { title: 'WebhookEndpointWithSecret', examples: [{ ...ENDPOINT_EXAMPLE, secret: SECRET_EXAMPLE }] })
export type WebhookEndpointWithSecret = Static<typeof WebhookEndpointWithSecretSchema>

export const WebhookEndpointPageSchema = PageSchema(WebhookEndpointSchema)

export const NewWebhookEndpointSchema = Type.Object({
  url: UrlSchema,
  eventTypes: EventTypesSchema,
  description: Type.Optional(DescriptionSchema)
}, { title: 'NewWebhookEndpoint', additionalProperties: false })
export type NewWebhookEndpoint = Static<typeof NewWebhookEndpointSchema>

export const WebhookEndpointPatchSchema = Type.Object({
  url: Type.Optional(UrlSchema),
  eventTypes: Type.Optional(EventTypesSchema),
  description: Type.Optional(DescriptionSchema),
  enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint and clears its reason' }))
}, { title: 'WebhookEndpointPatch', additionalProperties: false, minProperties: 1, examples: [{ enabled: true }] })
export type WebhookEndpointPatch = Static<typeof WebhookEndpointPatchSchema>

export const WebhookDeliverySchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Sent as webhook-id on every attempt' }),
  endpointId: UuidSchema,
  eventId: UuidSchema,
  eventType: EventTypeSchema,
  status: Type.Enum(['pending', 'delivered', 'failed'], { description: 'pending while attempts remain; failed once retries ran out or the endpoint was disabled' }),
  attempts: Type.Integer({ minimum: 0 }),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()], { description: 'HTTP status of the last attempt; null if it got no answer' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastAttemptAt: Type.Union([TimestampSchema, Type.Null()]),
  deliveredAt: Type.Union([TimestampSchema, Type.Null()]),
  createdAt: TimestampSchema
}, { title: 'WebhookDelivery' })
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>
export const WebhookDeliveryPageSchema = PageSchema(WebhookDeliverySchema)

export const WebhookPageQuerySchema = Type.Object({
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

// The headers of every message, as the specification names them.
export const WEBHOOK_HEADERS = {
  'webhook-id': 'The delivery id: the same on every retry and replay of one message; deduplicate on it',
  'webhook-timestamp': 'Seconds since the epoch when this attempt was signed; refuse messages far from your clock',
  'webhook-signature': 'Space-separated `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint secret (whsec_ prefix removed, base64-decoded)'
}

export function eventDescription (type: DomainEventType): string {
  return (DomainEventSchemas[type] as { description?: string }).description ?? type
}

// The body integrators receive for one event type: its payload plus the event's id.
export function webhookMessageSchema (type: DomainEventType) {
  const payload = DomainEventSchemas[type]
  return Type.Object({
    type: Type.Literal(type),
    timestamp: Type.String({ format: 'date-time', description: 'When the event occurred' }),
    data: Type.Object({
      ...payload.properties,
      eventId: Type.String({ format: 'uuid', description: 'The domain event; one event may reach an endpoint only once' })
    }, { additionalProperties: false, description: eventDescription(type) })
  }, { additionalProperties: false })
}
