import { Type } from 'typebox'
import { CurrencySchema, IdempotencyKeySchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'

export const WalletEntrySchema = Type.Object({
  id: Type.Integer(),
  transactionId: Type.Integer(),
  kind: Type.Enum(['credit', 'entry_fee', 'refund', 'prize', 'house_fee']),
  competitionId: Type.Union([UuidSchema, Type.Null()]),
  memo: Type.Union([Type.String(), Type.Null()]),
  currency: CurrencySchema,
  amount: Type.Integer({ description: 'Signed minor units: negative leaves the wallet' }),
  balanceAfter: Type.Integer({ description: 'Wallet balance right after this entry' }),
  createdAt: TimestampSchema
})
export const WalletEntriesPageSchema = PageSchema(WalletEntrySchema)

// Ajv's removeAdditional: 'all' would strip every header a schema does not list from the
// request itself (authorization, user-agent, ...); patternProperties marks them all as known.
const KEEP_OTHER_HEADERS = { patternProperties: { '^': {} } }

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(IdempotencyKeySchema)
}, KEEP_OTHER_HEADERS)
export const RequiredIdempotencyHeadersSchema = Type.Object({
  'idempotency-key': IdempotencyKeySchema
}, KEEP_OTHER_HEADERS)

export const CreditBodySchema = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'Minor units to add to the wallet' }),
  currency: CurrencySchema,
  memo: Type.Optional(Type.String({ maxLength: 200 }))
})

export const CreditResultSchema = Type.Object({
  transactionId: Type.Integer(),
  userId: UuidSchema,
  amount: Type.Integer(),
  currency: CurrencySchema,
  balance: Type.Integer({ description: 'Wallet balance after the credit' })
})
