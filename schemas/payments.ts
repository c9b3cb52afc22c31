import { Type } from 'typebox'
import { CurrencySchema, CursorSchema, DayInputSchema, LimitSchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'

const Positive = Type.Integer({ minimum: 1, maximum: 99_999_999, description: 'Minor units of the currency (cents; yen for JPY)', examples: [2500] })

export const DepositBodySchema = Type.Object({
  amount: Positive,
  currency: CurrencySchema
}, { title: 'MoneyAmount', additionalProperties: false })

export const DepositSchema = Type.Object({
  id: UuidSchema,
  amount: Type.Integer(),
  currency: CurrencySchema,
  status: Type.Enum(['pending', 'succeeded', 'failed'], { description: 'pending until the gateway confirms the payment; the wallet is credited on succeeded' }),
  refundedAmount: Type.Integer({ description: 'Refunded so far, taken back from the wallet' }),
  failureCode: Type.Union([Type.String(), Type.Null()]),
  failureMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema
}, { title: 'Deposit' })
export const DepositsPageSchema = PageSchema(DepositSchema)

export const StartedDepositSchema = Type.Object({
  ...DepositSchema.properties,
  paymentIntentId: Type.String({ description: 'The Stripe PaymentIntent the app confirms' }),
  clientSecret: Type.String({ description: 'Give to Stripe\'s Payment Sheet or Elements to confirm the payment' }),
  publishableKey: Type.Union([Type.String(), Type.Null()], { description: 'The Stripe publishable key the app initialises its SDK with' })
}, { title: 'StartedDeposit' })

export const DepositParamsSchema = Type.Object({ userId: UuidSchema, depositId: UuidSchema })

export const WalletSummarySchema = Type.Object({
  currency: CurrencySchema,
  deposits: Type.Integer({ description: 'Deposited money: spendable and withdrawable' }),
  winnings: Type.Integer({ description: 'Prizes won: spendable and withdrawable' }),
  promo: Type.Integer({ description: 'Promotional credit: spendable on entry fees, never withdrawn' }),
  total: Type.Integer({ description: 'All three pockets' }),
  withdrawable: Type.Integer({ description: 'Deposits and winnings, or 0 while a debt is outstanding' }),
  pendingWithdrawal: Type.Integer({ description: 'Reserved for withdrawals on their way out' }),
  frozen: Type.Integer({ description: 'Held while a payment dispute is open' }),
  debt: Type.Integer({ description: 'Owed after a refund or lost dispute the wallet could not cover; paid off by the next deposits, and blocks withdrawals' })
}, { title: 'WalletCurrency' })
export const WalletSchema = Type.Object({
  wallets: Type.Array(WalletSummarySchema),
  spendingOrder: Type.Array(Type.String(), { description: 'The order in which entry fees spend the pockets' })
}, { title: 'Wallet' })

export const StripeWebhookReplySchema = Type.Object({
  received: Type.Boolean(),
  duplicate: Type.Boolean({ description: 'true when this event id had been received before (nothing is done twice)' })
}, { title: 'StripeEventReceipt' })

// Gateway event types the service acts on; Stripe's webhook endpoints should send these.
export const HANDLED_STRIPE_EVENTS = [
  'payment_intent.succeeded', 'payment_intent.payment_failed', 'charge.refunded',
  'charge.dispute.created', 'charge.dispute.closed', 'account.updated', 'payout.paid', 'payout.failed'
] as const

export const WithdrawalBodySchema = DepositBodySchema

export const WithdrawalSchema = Type.Object({
  id: UuidSchema,
  userId: UuidSchema,
  amount: Type.Integer(),
  currency: CurrencySchema,
  status: Type.Enum(['review', 'processing', 'in_transit', 'paid', 'failed', 'rejected'], {
    description: 'review: waits for an admin (large amounts); processing: transfer and payout under way; in_transit: on its way to the bank; ' +
      'paid; failed or rejected: the money is back in the wallet'
  }),
  failureCode: Type.Union([Type.String(), Type.Null()]),
  failureMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema
}, { title: 'Withdrawal' })
export const WithdrawalsPageSchema = PageSchema(WithdrawalSchema)
export const WithdrawalParamsSchema = Type.Object({ userId: UuidSchema, withdrawalId: UuidSchema })
export const AdminWithdrawalParamsSchema = Type.Object({ withdrawalId: UuidSchema })
export const AdminWithdrawalsQuerySchema = Type.Object({
  status: Type.Optional(Type.Enum(['review', 'processing', 'in_transit', 'paid', 'failed', 'rejected'])),
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

export const PayoutAccountSchema = Type.Object({
  stripeAccountId: Type.String(),
  status: Type.Enum(['onboarding', 'active', 'restricted'], { description: 'active once Stripe enables payouts' }),
  payoutsEnabled: Type.Boolean(),
  requirements: Type.Array(Type.String(), { description: 'What Stripe still needs from the user' })
}, { title: 'PayoutAccount' })
export const OnboardingLinkSchema = Type.Object({
  ...PayoutAccountSchema.properties,
  onboardingUrl: Type.String({ description: 'Open in a browser: Stripe\'s hosted onboarding; expires in minutes' }),
  expiresAt: TimestampSchema
}, { title: 'PayoutOnboardingLink' })

export const ReconciliationDifferenceSchema = Type.Object({
  reference: Type.String({ description: 'The gateway object (ch_, re_, tr_, trr_, dp_) or balance transaction' }),
  currency: CurrencySchema,
  kind: Type.Enum(['missing_in_ledger', 'missing_at_gateway', 'amount_mismatch']),
  ledgerAmount: Type.Union([Type.Integer(), Type.Null()], { description: 'What the ledger moved, as the gateway signs it (money in positive)' }),
  gatewayAmount: Type.Union([Type.Integer(), Type.Null()])
}, { title: 'ReconciliationDifference' })
export const ReconciliationReportSchema = Type.Object({
  id: Type.Integer(),
  day: Type.String({ format: 'date', description: 'The UTC day compared' }),
  gatewayCount: Type.Integer({ description: 'Gateway balance transactions compared' }),
  ledgerCount: Type.Integer({ description: 'Ledger transactions with a gateway reference compared' }),
  differenceCount: Type.Integer(),
  differences: Type.Array(ReconciliationDifferenceSchema),
  createdAt: TimestampSchema
}, { title: 'Reconciliation' })
export const ReconciliationRunBodySchema = Type.Object({
  day: DayInputSchema('A UTC day (YYYY-MM-DD) to reconcile now')
}, { title: 'ReconciliationRun', additionalProperties: false })
export const ReconciliationsPageSchema = PageSchema(ReconciliationReportSchema)
