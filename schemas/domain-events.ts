import { Type, type Static, type TSchema } from 'typebox'
import { CurrencySchema, MinorUnitsSchema, TimestampSchema, UuidSchema } from './common.ts'
import { StatusSchema } from './competitions.ts'
import { TransactionKindSchema } from './ledger.ts'

// The domain's events: what happened, written in the transaction of the change it describes
// (services/shared/outbox.ts) and delivered to job handlers and integrators' webhooks. These
// schemas are the payloads' contract (the OpenAPI document's webhooks section is built from
// them), so a field is added, never renamed or removed.

const closed = <T extends Record<string, TSchema>>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description })

const StatusChangeSchema = (description: string) => closed({
  competitionId: UuidSchema,
  from: StatusSchema,
  to: StatusSchema,
  at: TimestampSchema
}, description)

const MembershipSchema = (description: string) => closed({ competitionId: UuidSchema, userId: UuidSchema }, description)

const depositFields = { depositId: UuidSchema, userId: UuidSchema, amount: MinorUnitsSchema, currency: CurrencySchema }
const withdrawalFields = { withdrawalId: UuidSchema, userId: UuidSchema, amount: MinorUnitsSchema, currency: CurrencySchema }

export const DomainEventSchemas = {
  'competition.created': closed({
    competitionId: UuidSchema,
    name: Type.String(),
    metric: Type.String(),
    startsAt: TimestampSchema,
    endsAt: TimestampSchema,
    visibility: Type.Union([Type.Literal('public'), Type.Literal('private')]),
    createdBy: Type.Union([UuidSchema, Type.Null()])
  }, 'A competition was created (scheduled).'),
  'competition.updated': closed({
    competitionId: UuidSchema,
    changed: Type.Array(Type.String(), { description: 'The fields that changed, as the API names them' }),
    startsAt: TimestampSchema,
    endsAt: TimestampSchema,
    visibility: Type.Union([Type.Literal('public'), Type.Literal('private')])
  }, 'A competition\'s details were changed by its creator or an admin.'),
  'competition.started': StatusChangeSchema('A competition started taking scores (scheduled -> active).'),
  'competition.ended': StatusChangeSchema('A competition ended; late syncs are taken during its grace period (active -> grace).'),
  'competition.final': StatusChangeSchema('A competition\'s results are final and ranked (grace -> final).'),
  'competition.cancelled': StatusChangeSchema('A competition was cancelled; entry fees were refunded.'),
  'participant.joined': MembershipSchema('A user joined a competition.'),
  'participant.left': MembershipSchema('A user left a competition before it started.'),
  'score.changed': closed({
    competitionId: UuidSchema,
    // Every score that changed in one committed batch of this competition, coalesced.
    changes: Type.Array(closed({
      userId: UuidSchema,
      score: Type.Integer({ minimum: 0 }),
      previousScore: Type.Integer({ minimum: 0, description: 'The score before the batch' })
    }, 'A participant\'s new score'), { minItems: 1 })
  }, 'Participants\' scores changed (one event per committed batch of a competition).'),
  'prize.paid': closed({
    competitionId: UuidSchema,
    userId: UuidSchema,
    amount: MinorUnitsSchema,
    currency: CurrencySchema,
    rank: Type.Integer({ minimum: 1 })
  }, 'A prize was paid to a winner\'s wallet.'),
  'ledger.posted': closed({
    transactionId: Type.Integer({ minimum: 1 }),
    kind: TransactionKindSchema,
    competitionId: Type.Union([UuidSchema, Type.Null()]),
    // The users' wallets the transaction moved money in or out of (negative: out).
    wallets: Type.Array(closed({ userId: UuidSchema, amount: Type.Integer(), currency: CurrencySchema }, 'A wallet leg'))
  }, 'Money moved: a balanced transaction was posted to the double-entry ledger.'),
  'deposit.succeeded': closed({ ...depositFields }, 'A deposit was paid and credited to the user\'s wallet.'),
  'deposit.failed': closed({ ...depositFields, reason: Type.String() }, 'A deposit\'s payment failed; nothing was credited.'),
  'withdrawal.paid': closed({ ...withdrawalFields }, 'A withdrawal reached the user\'s bank account.'),
  'withdrawal.failed': closed({
    ...withdrawalFields,
    status: Type.Union([Type.Literal('failed'), Type.Literal('rejected')]),
    reason: Type.String()
  }, 'A withdrawal failed or was rejected; the money went back to the wallet.'),
  'flag.raised': closed({
    flagId: Type.Integer({ minimum: 1 }),
    userId: UuidSchema,
    reason: Type.String(),
    competitionIds: Type.Array(UuidSchema)
  }, 'Anti-cheat flagged a participant\'s fitness data; their scores in these competitions are held.'),
  'flag.cleared': closed({ flagId: Type.Integer({ minimum: 1 }), userId: UuidSchema, competitionIds: Type.Array(UuidSchema) }, 'An admin cleared a flag; the data counts.'),
  'flag.confirmed': closed({ flagId: Type.Integer({ minimum: 1 }), userId: UuidSchema, competitionIds: Type.Array(UuidSchema) }, 'An admin confirmed a flag; the data is rejected.'),
  'sync.completed': closed({
    userId: UuidSchema,
    source: Type.String(),
    inserted: Type.Integer({ minimum: 0 }),
    replaced: Type.Integer({ minimum: 0 }),
    deleted: Type.Integer({ minimum: 0 })
  }, 'A batch of fitness data from a device or provider was stored (only batches that changed something).'),
  'user.deleted': closed({ userId: UuidSchema, deletedAt: TimestampSchema },
    'A user\'s account was deleted: the service holds no more of their personal data, and an integrator that keeps any should ' +
    'delete it too. The id stays, as a pseudonym, in results and the ledger.')
} as const

export type DomainEventType = keyof typeof DomainEventSchemas
// Distributes over a union of types, so one call can record any of several events.
export type DomainEventPayload<K extends DomainEventType> = K extends DomainEventType ? Static<typeof DomainEventSchemas[K]> : never

export const DOMAIN_EVENT_TYPES = Object.keys(DomainEventSchemas) as DomainEventType[]

// An event as consumers and integrators receive it.
export const DomainEventEnvelopeSchema = Type.Object({
  id: UuidSchema,
  type: Type.Union(DOMAIN_EVENT_TYPES.map((t) => Type.Literal(t))),
  occurredAt: TimestampSchema,
  data: Type.Record(Type.String(), Type.Unknown())
}, { additionalProperties: false })
