import t from 'tap'
import { paymentLimits } from '../../../services/payments/limits.ts'
import { currencyExponent } from '../../../lib/currencies.ts'

t.test('currency exponents follow ISO 4217 as Stripe uses them', async (t) => {
  t.same(['USD', 'EUR', 'JPY', 'KRW', 'KWD'].map(currencyExponent), [2, 2, 0, 0, 3])
})

t.test('limits: defaults scaled per currency, overrides in minor units, a bad override refused', async (t) => {
  const limits = paymentLimits('USD,JPY', '')
  t.equal(limits.get('USD')?.depositMin, 500, '5 dollars')
  t.equal(limits.get('JPY')?.depositMin, 500, '500 yen: zero-decimal currencies get 100 times the units')
  t.equal(limits.get('EUR'), undefined, 'only accepted currencies')
  const custom = { depositMin: 1, depositMax: 2, depositDailyMax: 3, withdrawalMin: 4, withdrawalMax: 5, withdrawalDailyMax: 6, reviewAbove: 7 }
  t.same(paymentLimits('USD', JSON.stringify({ USD: custom })).get('USD'), custom)
  t.throws(() => paymentLimits('USD', JSON.stringify({ USD: { ...custom, depositMin: '1' } })), /PAYMENTS_LIMITS is invalid at \/USD\/depositMin/)
  t.throws(() => paymentLimits('USD', JSON.stringify({ USD: { ...custom, surprise: 1 } })), /PAYMENTS_LIMITS is invalid/)
  t.throws(() => paymentLimits('usd', ''), /not an ISO-4217 code/)
})
