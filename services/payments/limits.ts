import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { errors } from '../../lib/errors.ts'
import { currencyExponent } from '../../lib/currencies.ts'

const Amount = Type.Integer({ minimum: 1 })
export const CurrencyLimitsSchema = Type.Object({
  depositMin: Amount,
  depositMax: Amount,
  // Over any 24 hours, deposits not failed.
  depositDailyMax: Amount,
  withdrawalMin: Amount,
  withdrawalMax: Amount,
  withdrawalDailyMax: Amount,
  // A withdrawal above this waits for an admin.
  reviewAbove: Amount
}, { additionalProperties: false })
export type CurrencyLimits = Static<typeof CurrencyLimitsSchema>
const LimitsOverrideSchema = Type.Record(Type.String({ pattern: '^[A-Z]{3}$' }), CurrencyLimitsSchema)

// Defaults in major units (dollars); zero-decimal currencies such as JPY get 100 times as many
// units, which keeps them near the same value.
const DEFAULT_MAJOR: CurrencyLimits = {
  depositMin: 5, depositMax: 500, depositDailyMax: 1000, withdrawalMin: 10, withdrawalMax: 2000, withdrawalDailyMax: 5000, reviewAbove: 1000
}

function defaults (currency: string): CurrencyLimits {
  const exponent = currencyExponent(currency)
  const scale = exponent === 0 ? 100 : 10 ** exponent
  return Object.fromEntries(Object.entries(DEFAULT_MAJOR).map(([k, v]) => [k, v * scale])) as CurrencyLimits
}

// Limits per accepted currency: the defaults, overridden by PAYMENTS_LIMITS (JSON keyed by
// currency, in minor units). A bad override stops start-up rather than being half-applied.
export function paymentLimits (currencies: string, overrides: string): Map<string, CurrencyLimits> {
  const accepted = currencies.split(',').map((c) => c.trim()).filter((c) => c !== '')
  const parsed: unknown = overrides.trim() === '' ? {} : JSON.parse(overrides)
  if (!Value.Check(LimitsOverrideSchema, parsed)) {
    const first = Value.Errors(LimitsOverrideSchema, parsed)[0]
    throw new Error(`PAYMENTS_LIMITS is invalid at ${first?.instancePath ?? '/'}: ${first?.message ?? 'unknown'}`)
  }
  const limits = new Map<string, CurrencyLimits>()
  for (const currency of accepted) {
    if (!/^[A-Z]{3}$/.test(currency)) throw new Error(`PAYMENTS_CURRENCIES: ${currency} is not an ISO-4217 code`)
    limits.set(currency, parsed[currency] ?? defaults(currency))
  }
  return limits
}

export function limitsFor (limits: Map<string, CurrencyLimits>, currency: string): CurrencyLimits {
  const found = limits.get(currency)
  if (!found) throw errors.BadRequest(`Currency ${currency} is not accepted; accepted: ${[...limits.keys()].join(', ')}`)
  return found
}

export function checkRange (amount: number, min: number, max: number, what: string): void {
  if (amount < min) throw errors.LimitExceeded(`A ${what} is at least ${min} minor units`)
  if (amount > max) throw errors.LimitExceeded(`A ${what} is at most ${max} minor units`)
}
