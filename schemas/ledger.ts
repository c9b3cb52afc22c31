import { Type } from 'typebox'
import { CurrencySchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'

export const TRANSACTION_KINDS = ['credit', 'entry_fee', 'refund', 'prize', 'house_fee', 'deposit', 'deposit_refund',
  'withdrawal', 'withdrawal_sent', 'withdrawal_reversal', 'dispute_opened', 'dispute_won', 'dispute_lost'] as const
export const TransactionKindSchema = Type.Enum(TRANSACTION_KINDS, { description: 'What moved the money' })

export const WalletEntrySchema = Type.Object({
  id: Type.Integer(),
  transactionId: Type.Integer(),
  kind: TransactionKindSchema,
  competitionId: Type.Union([UuidSchema, Type.Null()]),
  memo: Type.Union([Type.String(), Type.Null()]),
  currency: CurrencySchema,
  amount: Type.Integer({ description: 'Signed minor units: negative leaves the wallet' }),
  pocket: Type.Enum(['deposits', 'winnings', 'promo'], { description: 'The wallet pocket the entry moved: deposits and winnings may be withdrawn, promotional credit only spent' }),
  balanceAfter: Type.Integer({ description: 'The pocket\'s balance right after this entry' }),
  createdAt: TimestampSchema
}, { title: 'WalletEntry' })
export const WalletEntriesPageSchema = PageSchema(WalletEntrySchema)

export const CreditBodySchema = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'Minor units to add to the wallet', examples: [2500] }),
  currency: CurrencySchema,
  memo: Type.Optional(Type.String({ maxLength: 200, examples: ['Welcome bonus'] }))
}, { title: 'Credit', additionalProperties: false })

export const CreditResultSchema = Type.Object({
  transactionId: Type.Integer(),
  userId: UuidSchema,
  amount: Type.Integer(),
  currency: CurrencySchema,
  balance: Type.Integer({ description: 'Wallet balance after the credit' })
}, { title: 'CreditResult' })
