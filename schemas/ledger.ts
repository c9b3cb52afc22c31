import { Type } from 'typebox'
import { CurrencySchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'

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

export const CreditBodySchema = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'Minor units to add to the wallet', examples: [2500] }),
  currency: CurrencySchema,
  memo: Type.Optional(Type.String({ maxLength: 200, examples: ['Welcome bonus'] }))
}, { additionalProperties: false })

export const CreditResultSchema = Type.Object({
  transactionId: Type.Integer(),
  userId: UuidSchema,
  amount: Type.Integer(),
  currency: CurrencySchema,
  balance: Type.Integer({ description: 'Wallet balance after the credit' })
})
