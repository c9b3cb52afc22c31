// ISO 4217 minor-unit exponents where they differ from 2, as Stripe uses them: an amount is
// always an integer count of the currency's smallest unit (cents, yen, fils).
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'])
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND'])

export function currencyExponent (currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0
  if (THREE_DECIMAL.has(currency)) return 3
  return 2
}

// One major unit (a dollar, a yen) in minor units.
export function majorUnit (currency: string): number {
  return 10 ** currencyExponent(currency)
}
