// A local fake of the Stripe API for tests. The real `stripe` SDK talks to it over HTTP
// (`new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })`),
// so requests go through the same encoding, headers, error classes and pagination as in
// production. What happens on Stripe's side (a card is charged, a dispute opens, a payout bounces)
// is driven by the test through control methods, which create the event Stripe would send and
// can deliver it, signed the way `stripe.webhooks.constructEvent` verifies.
//
// Money model: every object lives on an account (the platform, or a connected account named by
// the Stripe-Account header), each account has a ledger of balance transactions, and an
// account's available balance is the sum of their `net`. Funds are available at once.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHmac, randomBytes } from 'node:crypto'
import type Stripe from 'stripe'

// The version the installed SDK pins; events carry it as `api_version`.
export const API_VERSION = '2026-11-18.endive'

const PLATFORM = 'platform' // ledger and owner key of the platform account
const DAY = 86_400
const DISPUTE_FEE = 1500
const DELIVERY_TIMEOUT_MS = 10_000
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'])

export type FormValue = string | FormValue[] | { [key: string]: FormValue }
export type FormParams = Record<string, FormValue>

// Charges and disputes carry dozens of card-network details nobody here reads; the fake keeps
// the SDK's shape for the fields it fills. The other objects are complete SDK types.
export type FakeCharge = Pick<Stripe.Charge, 'id' | 'object' | 'amount' | 'amount_captured' | 'amount_refunded' |
  'balance_transaction' | 'captured' | 'created' | 'currency' | 'customer' | 'description' | 'disputed' |
  'failure_code' | 'failure_message' | 'livemode' | 'metadata' | 'paid' | 'payment_intent' | 'payment_method' |
  'refunded' | 'status' | 'transfer_group'>
export type FakeDispute = Pick<Stripe.Dispute, 'id' | 'object' | 'amount' | 'balance_transactions' | 'charge' |
  'created' | 'currency' | 'is_charge_refundable' | 'livemode' | 'metadata' | 'payment_intent' | 'reason' | 'status'>
export type StripeObject = Stripe.PaymentIntent | FakeCharge | Stripe.Refund | FakeDispute | Stripe.Account |
  Stripe.Transfer | Stripe.TransferReversal | Stripe.Payout | Stripe.BalanceTransaction

export interface StripeEvent extends Omit<Stripe.EventBase, 'data'> {
  data: { object: StripeObject, previous_attributes?: Record<string, unknown> }
}

export interface LoggedRequest {
  method: string
  path: string
  params: FormParams
  idempotencyKey: string | null
  stripeAccount: string | null
  requestId: string
}

export interface Delivery {
  eventId: string
  type: string
  url: string
  status: number // 0 when the request itself failed
  body: string
  error?: string
}

export interface DeliverOptions {
  secret?: string
  timestamp?: number
  url?: string
  payload?: string
}

export interface InjectedBalanceTransaction {
  type: Stripe.BalanceTransaction.Type
  amount: number
  currency?: string
  source?: string | null
  created?: number
  fee?: number
  description?: string | null
  reportingCategory?: string
}

export interface FakeStripeOptions {
  webhookUrl?: string
  autoDeliver?: boolean
  now?: () => number // unix seconds; defaults to the wall clock
}

export interface FakeStripe {
  port: number
  url: string
  secretKey: string
  webhookSecret: string
  events: StripeEvent[]
  requests: LoggedRequest[]
  deliveries: Delivery[]
  paymentIntents: Map<string, Stripe.PaymentIntent>
  charges: Map<string, FakeCharge>
  refunds: Map<string, Stripe.Refund>
  disputes: Map<string, FakeDispute>
  accounts: Map<string, Stripe.Account>
  transfers: Map<string, Stripe.Transfer>
  payouts: Map<string, Stripe.Payout>
  balanceTransactions: Stripe.BalanceTransaction[]
  setWebhookUrl: (url: string | undefined) => void
  availableBalance: (currency?: string, accountId?: string) => number
  succeedPaymentIntent: (id: string) => Promise<StripeEvent>
  failPaymentIntent: (id: string, opts?: { code?: string, message?: string }) => Promise<StripeEvent>
  refund: (paymentIntentId: string, amount?: number) => Promise<StripeEvent>
  createDispute: (paymentIntentId: string, amount?: number) => Promise<StripeEvent>
  closeDispute: (disputeId: string, outcome: 'won' | 'lost') => Promise<StripeEvent>
  completeOnboarding: (accountId: string) => Promise<StripeEvent>
  payPayout: (payoutId: string) => Promise<StripeEvent>
  failPayout: (payoutId: string, code?: string) => Promise<StripeEvent>
  injectBalanceTransaction: (tx: InjectedBalanceTransaction) => Stripe.BalanceTransaction
  signatureHeader: (payload: string, opts?: { secret?: string, timestamp?: number }) => string
  deliver: (event: StripeEvent, opts?: DeliverOptions) => Promise<{ status: number, body: string }>
  idle: () => Promise<void>
  close: () => Promise<void>
}

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function randomString (length: number): string {
  let out = ''
  for (const byte of randomBytes(length)) out += ALPHANUMERIC.charAt(byte % ALPHANUMERIC.length)
  return out
}

// Ids look like Stripe's: a type prefix and 24 alphanumerics.
export function stripeId (prefix: string): string {
  return `${prefix}_${randomString(24)}`
}

// Stripe's form encoding: `metadata[userId]=x`, `capabilities[transfers][requested]=true`,
// `expand[]=a` or `expand[0]=a` (what the SDK sends). Values stay strings, as on the wire.
export function parseForm (text: string): FormParams {
  const root: FormParams = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key)
    const path = match?.[1] === undefined
      ? [key]
      : [match[1], ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '')]
    let node: FormValue = root
    path.forEach((segment, i) => {
      const next = path[i + 1]
      // A segment followed by `[]` or `[n]` holds an array, anything else an object.
      const container = (): FormValue => next === '' || /^\d+$/.test(next ?? '') ? [] : {}
      if (Array.isArray(node)) {
        const index = segment === '' ? node.length : Number(segment)
        if (next === undefined) node[index] = value
        else if (typeof node[index] !== 'object') node[index] = container()
        node = node[index] as FormValue
      } else if (typeof node === 'object') {
        if (next === undefined) node[segment] = value
        else if (typeof node[segment] !== 'object') node[segment] = container()
        node = node[segment] as FormValue
      }
    })
  }
  return root
}

// Optional fields of an error: code, param, and for card errors decline_code, charge, payment_intent.
interface ErrorExtra {
  code?: string
  param?: string
  [field: string]: unknown
}

interface ErrorBody extends ErrorExtra {
  type: string
  message: string
  doc_url?: string
}

// A Stripe API error: the HTTP status and the `error` object of the response body.
class ApiError extends Error {
  status: number
  body: ErrorBody

  constructor (status: number, type: string, message: string, extra: ErrorExtra = {}) {
    super(message)
    this.status = status
    this.body = { type, message, ...extra }
    if (extra.code) this.body.doc_url = `https://stripe.com/docs/error-codes/${extra.code.replaceAll('_', '-')}`
  }
}

function invalid (message: string, extra: { code?: string, param?: string } = {}): ApiError {
  return new ApiError(400, 'invalid_request_error', message, extra)
}

function noSuch (what: string, id: string, param?: string): ApiError {
  return new ApiError(404, 'invalid_request_error', `No such ${what}: '${id}'`, { code: 'resource_missing', param })
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringParam (params: FormParams, name: string): string | undefined {
  const value = params[name]
  if (value === undefined || typeof value === 'string') return value
  throw invalid(`Invalid string: ${JSON.stringify(value)}`, { param: name })
}

function requiredString (params: FormParams, name: string): string {
  const value = stringParam(params, name)
  if (value === undefined || value === '') throw invalid(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name })
  return value
}

function integerParam (params: FormParams, name: string, min: number, max: number): number | undefined {
  const raw = stringParam(params, name)
  if (raw === undefined || raw === '') return undefined
  if (!/^-?\d+$/.test(raw)) throw invalid(`Invalid integer: ${raw}`, { code: 'parameter_invalid_integer', param: name })
  const value = Number(raw)
  if (value < min) throw invalid(`This value must be greater than or equal to ${min}.`, { code: 'parameter_invalid_integer', param: name })
  if (value > max) throw invalid(`This value must be less than or equal to ${max}.`, { code: 'parameter_invalid_integer', param: name })
  return value
}

// Amounts are positive integers in the currency's smallest unit, up to Stripe's eight digits.
function amountParam (params: FormParams, name = 'amount'): number | undefined {
  return integerParam(params, name, 1, 99_999_999)
}

function requiredAmount (params: FormParams, name = 'amount'): number {
  const value = amountParam(params, name)
  if (value === undefined) throw invalid(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name })
  return value
}

// Stripe accepts any case and answers in lower case.
function currencyParam (params: FormParams): string {
  const raw = requiredString(params, 'currency')
  if (!/^[a-z]{3}$/i.test(raw)) throw invalid(`Invalid currency: ${raw.toLowerCase()}.`, { param: 'currency' })
  return raw.toLowerCase()
}

// Metadata as sent, with Stripe's limits; an empty value means "unset this key" and
// `metadata=` (empty) means "unset all", which is returned as null.
function metadataEntries (params: FormParams): Array<[string, string]> | null | undefined {
  const raw = params.metadata
  if (raw === undefined) return undefined
  if (raw === '') return null
  if (!isRecord(raw)) throw invalid('Invalid object', { param: 'metadata' })
  const entries = Object.entries(raw).map(([key, value]): [string, string] => {
    if (typeof value !== 'string') throw invalid(`Invalid string: ${JSON.stringify(value)}`, { param: `metadata[${key}]` })
    if (key.length > 40) throw invalid('Metadata keys can have up to 40 characters.', { param: `metadata[${key}]` })
    if (value.length > 500) throw invalid(`Metadata values can have up to 500 characters, but you passed in a value that is ${value.length} characters.`, { param: `metadata[${key}]` })
    return [key, value]
  })
  if (entries.length > 50) throw invalid('You can only specify up to 50 keys in metadata.', { param: 'metadata' })
  return entries
}

function newMetadata (params: FormParams): Stripe.Metadata {
  return Object.fromEntries((metadataEntries(params) ?? []).filter(([, value]) => value !== ''))
}

function updateMetadata (current: Stripe.Metadata, params: FormParams): Stripe.Metadata {
  const entries = metadataEntries(params)
  if (entries === undefined) return current
  if (entries === null) return {}
  const next = { ...current }
  for (const [key, value] of entries) {
    if (value === '') delete next[key]
    else next[key] = value
  }
  return next
}

// Card pricing: 2.9% + 30 in the currency's minor unit; zero-decimal currencies have no
// minor unit to add 30 of, so they pay the percentage only.
function processingFee (amount: number, currency: string): number {
  return ZERO_DECIMAL.has(currency) ? Math.round(amount * 0.029) : Math.round(amount * 0.029) + 30
}

const REPORTING_CATEGORY: Record<string, string> = {
  charge: 'charge',
  payment: 'charge',
  refund: 'refund',
  payment_refund: 'refund',
  adjustment: 'other_adjustment',
  transfer: 'transfer',
  transfer_refund: 'transfer_reversal',
  payout: 'payout',
  payout_failure: 'payout_reversal',
  stripe_fee: 'fee'
}

// Stripe's own decline messages, by decline code.
const DECLINE_MESSAGES: Record<string, string> = {
  generic_decline: 'Your card was declined.',
  insufficient_funds: 'Your card has insufficient funds.',
  lost_card: 'Your card was declined.',
  stolen_card: 'Your card was declined.',
  fraudulent: 'Your card was declined.',
  do_not_honor: 'Your card was declined.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: "Your card's security code is incorrect.",
  processing_error: 'An error occurred while processing your card. Try again in a little bit.'
}
// These declines are reported under their own error code; the rest as code 'card_declined'.
const OWN_ERROR_CODE = new Set(['expired_card', 'incorrect_cvc', 'incorrect_number', 'processing_error'])

// Stripe's test payment methods that decline, with their decline codes.
const DECLINING_TEST_METHODS: Record<string, string> = {
  pm_card_chargeDeclined: 'generic_decline',
  pm_card_visa_chargeDeclined: 'generic_decline',
  pm_card_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  pm_card_visa_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  pm_card_chargeDeclinedLostCard: 'lost_card',
  pm_card_chargeDeclinedStolenCard: 'stolen_card',
  pm_card_chargeDeclinedFraudulent: 'fraudulent',
  pm_card_chargeDeclinedExpiredCard: 'expired_card',
  pm_card_chargeDeclinedIncorrectCvc: 'incorrect_cvc',
  pm_card_chargeDeclinedProcessingError: 'processing_error'
}

const PAYOUT_FAILURES: Record<string, string> = {
  account_closed: 'The bank account has been closed.',
  account_frozen: 'The bank account has been frozen.',
  bank_account_restricted: 'The bank account has restrictions on either the type, or the number, of payouts allowed.',
  could_not_process: 'The bank could not process this payout.',
  insufficient_funds: 'Your Stripe account has insufficient funds to cover the payout.',
  invalid_account_number: 'The routing number seems correct, but the account number is invalid.',
  no_account: 'The bank account details on file are probably incorrect. No bank account could be located with those details.'
}

// What an express account must still provide before it can take payments and get paid.
const ONBOARDING_REQUIREMENTS = ['business_type', 'external_account', 'individual.first_name', 'individual.last_name', 'tos_acceptance.date', 'tos_acceptance.ip']

const DEFAULT_CURRENCY: Record<string, string> = { US: 'usd', CA: 'cad', GB: 'gbp', AU: 'aud', JP: 'jpy', CH: 'chf', NZ: 'nzd', SG: 'sgd' }
const EURO_COUNTRIES = new Set(['AT', 'BE', 'CY', 'DE', 'EE', 'ES', 'FI', 'FR', 'GR', 'HR', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PT', 'SI', 'SK'])

interface RequestContext {
  params: FormParams
  owner: string // the account the request acts on: PLATFORM, or the Stripe-Account header
  request: Stripe.Event.Request
  emitted: StripeEvent[] // delivered once the response is out, as Stripe does
}

interface EmitOptions {
  ctx?: RequestContext // the API request that caused the event
  previous?: Record<string, unknown> // previous_attributes, for events about a change
  account?: string // the connected account, when it is not the object's owner
}

interface Route {
  method: string
  pattern: RegExp
  handler: (ctx: RequestContext, id: string) => unknown
}

interface SavedResponse {
  fingerprint: string
  status: number
  body: unknown
  requestId: string
}

function header (req: IncomingMessage, name: string): string | null {
  const value = req.headers[name]
  return (Array.isArray(value) ? value[0] : value) ?? null
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function redactKey (key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : key
}

export async function startFakeStripe (opts: FakeStripeOptions = {}): Promise<FakeStripe> {
  const secretKey = `sk_test_fake_${randomString(24)}`
  const webhookSecret = `whsec_${randomString(32)}`
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const autoDeliver = opts.autoDeliver ?? false
  let webhookUrl = opts.webhookUrl

  const events: StripeEvent[] = []
  const eventsById = new Map<string, StripeEvent>()
  const requests: LoggedRequest[] = []
  const deliveries: Delivery[] = []
  const paymentIntents = new Map<string, Stripe.PaymentIntent>()
  const charges = new Map<string, FakeCharge>()
  const refunds = new Map<string, Stripe.Refund>()
  const disputes = new Map<string, FakeDispute>()
  const accounts = new Map<string, Stripe.Account>()
  const transfers = new Map<string, Stripe.Transfer>()
  const payouts = new Map<string, Stripe.Payout>()
  const ledgers = new Map<string, Stripe.BalanceTransaction[]>([[PLATFORM, []]])
  const owners = new Map<string, string>() // object id -> account it lives on
  const objects = new Map<string, StripeObject>() // every object by id, for `expand`
  const bankAccounts = new Map<string, string>() // account -> its payout bank account id
  const returnUrls = new Map<string, string>() // account -> return_url of its latest account link
  const idempotent = new Map<string, SavedResponse>()

  function store<T extends StripeObject & { id: string }> (map: Map<string, T> | null, object: T, owner: string): T {
    map?.set(object.id, object)
    objects.set(object.id, object)
    owners.set(object.id, owner)
    return object
  }

  function ledger (owner: string): Stripe.BalanceTransaction[] {
    let entries = ledgers.get(owner)
    if (!entries) ledgers.set(owner, entries = [])
    return entries
  }

  function availableBalance (currency = 'usd', accountId = PLATFORM): number {
    return ledger(accountId).filter((tx) => tx.currency === currency).reduce((sum, tx) => sum + tx.net, 0)
  }

  function recordTransaction (owner: string, tx: InjectedBalanceTransaction): Stripe.BalanceTransaction {
    const currency = (tx.currency ?? 'usd').toLowerCase()
    const created = tx.created ?? now()
    const fee = tx.fee ?? 0
    const entry: Stripe.BalanceTransaction = {
      id: stripeId('txn'),
      object: 'balance_transaction',
      amount: tx.amount,
      available_on: created,
      balance_type: 'payments',
      created,
      currency,
      description: tx.description ?? null,
      exchange_rate: null,
      fee,
      fee_details: fee === 0 ? [] : [{ amount: fee, application: null, currency, description: 'Stripe processing fees', type: 'stripe_fee' }],
      net: tx.amount - fee,
      reporting_category: tx.reportingCategory ?? REPORTING_CATEGORY[tx.type] ?? 'other_adjustment',
      source: tx.source ?? null,
      status: 'available',
      type: tx.type
    }
    ledger(owner).push(entry)
    return store(null, entry, owner)
  }

  function bankAccountOf (owner: string): string {
    let id = bankAccounts.get(owner)
    if (!id) bankAccounts.set(owner, id = stripeId('ba'))
    return id
  }

  // Events hold a snapshot of the object, as Stripe's do; Connect events name the account.
  function emit (type: Stripe.Event.Type, object: StripeObject & { id: string }, { ctx, previous, account }: EmitOptions = {}): StripeEvent {
    const owner = account ?? owners.get(object.id) ?? PLATFORM
    const event: StripeEvent = {
      id: stripeId('evt'),
      object: 'event',
      ...(owner === PLATFORM ? {} : { account: owner }),
      api_version: API_VERSION,
      created: now(),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: ctx?.request ?? { id: null, idempotency_key: null },
      type
    }
    events.push(event)
    eventsById.set(event.id, event)
    owners.set(event.id, owner)
    ctx?.emitted.push(event)
    return event
  }

  // ---- webhook delivery -------------------------------------------------------------------

  function signatureHeader (payload: string, sign: { secret?: string, timestamp?: number } = {}): string {
    const timestamp = sign.timestamp ?? Math.floor(Date.now() / 1000)
    const signature = createHmac('sha256', sign.secret ?? webhookSecret).update(`${timestamp}.${payload}`, 'utf8').digest('hex')
    return `t=${timestamp},v1=${signature}`
  }

  async function deliver (event: StripeEvent, options: DeliverOptions = {}): Promise<{ status: number, body: string }> {
    const url = options.url ?? webhookUrl
    if (!url) throw new Error('fake stripe: no webhook url; pass startFakeStripe({ webhookUrl }) or call setWebhookUrl()')
    const payload = options.payload ?? JSON.stringify(event, null, 2)
    const signature = signatureHeader(payload, { secret: options.secret, timestamp: options.timestamp })
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signature,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)'
        },
        body: payload,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS)
      })
      const body = await res.text()
      deliveries.push({ eventId: event.id, type: event.type, url, status: res.status, body })
      return { status: res.status, body }
    } catch (err) {
      deliveries.push({ eventId: event.id, type: event.type, url, status: 0, body: '', error: String(err) })
      throw err
    }
  }

  // Automatic deliveries go one at a time in the order the events were created, so a test sees
  // the same order on every run (Stripe itself does not promise one).
  let deliveryChain: Promise<unknown> = Promise.resolve()
  async function autoDeliverEvent (event: StripeEvent): Promise<void> {
    if (!autoDeliver || !webhookUrl) return
    const delivery = deliveryChain.then(async () => await deliver(event))
    deliveryChain = delivery.catch(() => {})
    await delivery
  }

  async function idle (): Promise<void> {
    let seen
    do {
      seen = deliveryChain
      await seen
    } while (seen !== deliveryChain)
  }

  // Control methods return once their event is delivered (when delivering automatically).
  async function delivered (event: StripeEvent): Promise<StripeEvent> {
    await autoDeliverEvent(event)
    return event
  }

  // ---- payments ---------------------------------------------------------------------------

  function find<T> (map: Map<string, T>, id: string, owner: string, what: string, param = 'id'): T {
    const object = map.get(id)
    // Objects of another account are invisible, as with the real API.
    if (object === undefined || (owners.get(id) ?? PLATFORM) !== owner) throw noSuch(what, id, param)
    return object
  }

  function mustGet<T> (map: Map<string, T>, id: string, what: string): T {
    const object = map.get(id)
    if (object === undefined) throw new Error(`fake stripe: no ${what} ${id}`)
    return object
  }

  function newCharge (intent: Stripe.PaymentIntent, paymentMethod: string, failureCode: string | null, failureMessage: string | null): FakeCharge {
    const owner = owners.get(intent.id) ?? PLATFORM
    const ok = failureCode === null
    const charge: FakeCharge = {
      id: stripeId('ch'),
      object: 'charge',
      amount: intent.amount,
      amount_captured: ok ? intent.amount : 0,
      amount_refunded: 0,
      balance_transaction: null,
      captured: ok,
      created: now(),
      currency: intent.currency,
      customer: intent.customer,
      description: intent.description,
      disputed: false,
      failure_code: failureCode,
      failure_message: failureMessage,
      livemode: false,
      metadata: { ...intent.metadata },
      paid: ok,
      payment_intent: intent.id,
      payment_method: paymentMethod,
      refunded: false,
      status: ok ? 'succeeded' : 'failed',
      transfer_group: intent.transfer_group
    }
    if (ok) {
      const fee = processingFee(intent.amount, intent.currency)
      charge.balance_transaction = recordTransaction(owner, { type: 'charge', amount: intent.amount, currency: intent.currency, fee, source: charge.id, description: intent.description }).id
    }
    intent.latest_charge = charge.id
    intent.payment_method = paymentMethod
    return store(charges, charge, owner)
  }

  function assertConfirmable (intent: Stripe.PaymentIntent): void {
    if (intent.status === 'succeeded' || intent.status === 'canceled') {
      throw invalid(`This PaymentIntent's payment_method could not be updated because it has a status of ${intent.status}. You may only update the payment_method of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action.`, { code: 'payment_intent_unexpected_state' })
    }
  }

  function succeedIntent (intent: Stripe.PaymentIntent, paymentMethod: string, ctx?: RequestContext): StripeEvent {
    newCharge(intent, paymentMethod, null, null)
    intent.status = 'succeeded'
    intent.amount_received = intent.amount
    intent.amount_capturable = 0
    intent.last_payment_error = null
    return emit('payment_intent.succeeded', intent, { ctx })
  }

  // A decline leaves the intent waiting for another payment method, with the failed charge and
  // the error the customer saw.
  function declineIntent (intent: Stripe.PaymentIntent, paymentMethod: string, declineCode: string, message?: string, ctx?: RequestContext): StripeEvent {
    const code = OWN_ERROR_CODE.has(declineCode) ? declineCode : 'card_declined'
    const text = message ?? DECLINE_MESSAGES[declineCode] ?? 'Your card was declined.'
    const charge = newCharge(intent, paymentMethod, code, text)
    intent.status = 'requires_payment_method'
    intent.payment_method = null
    intent.last_payment_error = {
      charge: charge.id,
      code,
      decline_code: declineCode,
      doc_url: `https://stripe.com/docs/error-codes/${code.replaceAll('_', '-')}`,
      message: text,
      payment_method_type: 'card',
      type: 'card_error'
    }
    return emit('payment_intent.payment_failed', intent, { ctx })
  }

  // Server-side confirmation with one of Stripe's test payment methods: most succeed, the
  // `pm_card_chargeDeclined*` ones decline with a 402 card_error, as in test mode.
  function confirmIntent (ctx: RequestContext, intent: Stripe.PaymentIntent): Stripe.PaymentIntent {
    assertConfirmable(intent)
    const given = stringParam(ctx.params, 'payment_method') ?? (typeof intent.payment_method === 'string' ? intent.payment_method : undefined)
    if (!given) throw invalid("You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, provide a payment_method.", { code: 'payment_intent_unexpected_state', param: 'payment_method' })
    const paymentMethod = given.startsWith('pm_card_') ? stripeId('pm') : given
    const declineCode = DECLINING_TEST_METHODS[given]
    if (declineCode === undefined) {
      succeedIntent(intent, paymentMethod, ctx)
      return intent
    }
    declineIntent(intent, paymentMethod, declineCode, undefined, ctx)
    const error = intent.last_payment_error
    throw new ApiError(402, 'card_error', error?.message ?? 'Your card was declined.', {
      code: error?.code, decline_code: declineCode, charge: error?.charge, payment_intent: structuredClone(intent)
    })
  }

  function createPaymentIntent (ctx: RequestContext): Stripe.PaymentIntent {
    const p = ctx.params
    const amount = requiredAmount(p)
    const currency = currencyParam(p)
    const id = stripeId('pi')
    const methodTypes = p.payment_method_types
    // Automatic payment methods are on unless turned off or a list of types is given.
    const automatic = !(isRecord(p.automatic_payment_methods) && p.automatic_payment_methods.enabled === 'false') && methodTypes === undefined
    const intent: Stripe.PaymentIntent = {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount,
      amount_capturable: 0,
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: automatic ? { allow_redirects: 'always', enabled: true } : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: stringParam(p, 'capture_method') ?? 'automatic_async',
      client_secret: `${id}_secret_${randomString(25)}`,
      confirmation_method: stringParam(p, 'confirmation_method') ?? 'automatic',
      created: now(),
      currency,
      customer: stringParam(p, 'customer') ?? null,
      customer_account: null,
      description: stringParam(p, 'description') ?? null,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: newMetadata(p),
      next_action: null,
      on_behalf_of: null,
      payment_method: stringParam(p, 'payment_method') ?? null,
      payment_method_configuration_details: automatic ? { id: stripeId('pmc'), parent: null } : null,
      payment_method_options: null,
      payment_method_types: automatic ? ['card', 'link'] : Array.isArray(methodTypes) ? methodTypes.map(String) : ['card'],
      payment_record: null,
      processing: null,
      receipt_email: stringParam(p, 'receipt_email') ?? null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: stringParam(p, 'statement_descriptor') ?? null,
      statement_descriptor_suffix: stringParam(p, 'statement_descriptor_suffix') ?? null,
      status: 'requires_payment_method',
      transfer_group: stringParam(p, 'transfer_group') ?? null
    }
    store(paymentIntents, intent, ctx.owner)
    if (stringParam(p, 'confirm') === 'true') return confirmIntent(ctx, intent)
    return intent
  }

  function updatePaymentIntent (ctx: RequestContext, id: string): Stripe.PaymentIntent {
    const intent = find(paymentIntents, id, ctx.owner, 'payment_intent', 'intent')
    const p = ctx.params
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(intent.status)) {
      throw invalid(`You cannot update this PaymentIntent because it has a status of ${intent.status}.`, { code: 'payment_intent_unexpected_state' })
    }
    intent.amount = amountParam(p) ?? intent.amount
    if (p.currency !== undefined) intent.currency = currencyParam(p)
    intent.description = stringParam(p, 'description') ?? intent.description
    intent.receipt_email = stringParam(p, 'receipt_email') ?? intent.receipt_email
    intent.transfer_group = stringParam(p, 'transfer_group') ?? intent.transfer_group
    intent.payment_method = stringParam(p, 'payment_method') ?? intent.payment_method
    intent.metadata = updateMetadata(intent.metadata, p)
    return intent
  }

  function cancelPaymentIntent (ctx: RequestContext, id: string): Stripe.PaymentIntent {
    const intent = find(paymentIntents, id, ctx.owner, 'payment_intent', 'intent')
    if (intent.status === 'succeeded' || intent.status === 'canceled') {
      throw invalid(`You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`, { code: 'payment_intent_unexpected_state' })
    }
    intent.status = 'canceled'
    intent.canceled_at = now()
    intent.cancellation_reason = (stringParam(ctx.params, 'cancellation_reason') ?? 'requested_by_customer') as Stripe.PaymentIntent.CancellationReason
    emit('payment_intent.canceled', intent, { ctx })
    return intent
  }

  function successfulCharge (intent: Stripe.PaymentIntent, param: string): FakeCharge {
    const charge = typeof intent.latest_charge === 'string' ? charges.get(intent.latest_charge) : undefined
    if (intent.status !== 'succeeded' || charge?.status !== 'succeeded') {
      throw invalid(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, { param })
    }
    return charge
  }

  // A refund takes money back out of the balance of the account that was paid; the Stripe fee
  // is not returned, as with cards.
  function createRefund (charge: FakeCharge, requested: number | undefined, extra: { reason?: string, metadata?: Stripe.Metadata }, ctx?: RequestContext): { refund: Stripe.Refund, event: StripeEvent } {
    const owner = owners.get(charge.id) ?? PLATFORM
    const remaining = charge.amount - charge.amount_refunded
    if (remaining === 0) throw invalid(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' })
    const amount = requested ?? remaining
    if (amount > remaining) throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, { code: 'amount_too_large', param: 'amount' })
    const id = stripeId('re')
    const tx = recordTransaction(owner, { type: 'refund', amount: -amount, currency: charge.currency, source: id, description: 'REFUND FOR CHARGE' })
    const refund: Stripe.Refund = {
      id,
      object: 'refund',
      amount,
      application: null,
      balance_transaction: tx.id,
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      customer: charge.customer,
      customer_account: null,
      metadata: extra.metadata ?? {},
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      reason: (extra.reason ?? null) as Stripe.Refund.Reason | null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null
    }
    store(refunds, refund, owner)
    const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded }
    charge.amount_refunded += amount
    charge.refunded = charge.amount_refunded === charge.amount
    return { refund, event: emit('charge.refunded', charge, { ctx, previous }) }
  }

  function createRefundFromRequest (ctx: RequestContext): Stripe.Refund {
    const p = ctx.params
    const intentId = stringParam(p, 'payment_intent')
    const chargeId = stringParam(p, 'charge')
    let charge: FakeCharge
    if (intentId) charge = successfulCharge(find(paymentIntents, intentId, ctx.owner, 'payment_intent', 'payment_intent'), 'payment_intent')
    else if (chargeId) charge = find(charges, chargeId, ctx.owner, 'charge', 'charge')
    else throw invalid('One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing' })
    if (charge.status !== 'succeeded') throw invalid(`Charge ${charge.id} has not succeeded, so it cannot be refunded.`, { param: 'charge' })
    return createRefund(charge, amountParam(p), { reason: stringParam(p, 'reason'), metadata: newMetadata(p) }, ctx).refund
  }

  // ---- Connect: accounts, transfers, payouts ------------------------------------------------

  function createAccount (ctx: RequestContext): Stripe.Account {
    const p = ctx.params
    const type = stringParam(p, 'type') ?? 'standard'
    if (!['express', 'custom', 'standard'].includes(type)) throw invalid('Invalid type: must be one of custom, express, or standard', { param: 'type' })
    const country = (stringParam(p, 'country') ?? 'US').toUpperCase()
    // Requested capabilities stay inactive until onboarding is done.
    const capabilities: Record<string, string> = {}
    if (isRecord(p.capabilities)) {
      for (const [name, value] of Object.entries(p.capabilities)) {
        if (isRecord(value) && value.requested === 'true') capabilities[name] = 'inactive'
      }
    }
    const account: Stripe.Account = {
      id: stripeId('acct'),
      object: 'account',
      business_type: (stringParam(p, 'business_type') ?? null) as Stripe.Account.BusinessType | null,
      capabilities: capabilities as Stripe.Account.Capabilities,
      charges_enabled: false,
      country,
      created: now(),
      default_currency: stringParam(p, 'default_currency')?.toLowerCase() ?? DEFAULT_CURRENCY[country] ?? (EURO_COUNTRIES.has(country) ? 'eur' : 'usd'),
      details_submitted: false,
      email: stringParam(p, 'email') ?? null,
      metadata: newMetadata(p),
      payouts_enabled: false,
      requirements: {
        alternatives: [],
        current_deadline: null,
        currently_due: [...ONBOARDING_REQUIREMENTS],
        disabled_reason: 'requirements.past_due',
        errors: [],
        eventually_due: [...ONBOARDING_REQUIREMENTS],
        past_due: [...ONBOARDING_REQUIREMENTS],
        pending_verification: []
      },
      type
    }
    return store(accounts, account, PLATFORM)
  }

  function createAccountLink (ctx: RequestContext): Stripe.AccountLink {
    const p = ctx.params
    const accountId = requiredString(p, 'account')
    if (!accounts.has(accountId)) throw noSuch('account', accountId, 'account')
    const type = requiredString(p, 'type')
    if (type !== 'account_onboarding' && type !== 'account_update') throw invalid('Invalid type: must be one of account_onboarding or account_update', { param: 'type' })
    const returnUrl = stringParam(p, 'return_url')
    if (returnUrl) returnUrls.set(accountId, returnUrl)
    const created = now()
    return { object: 'account_link', created, expires_at: created + 300, url: `${url}/connect/onboarding/${accountId}` }
  }

  async function completeOnboarding (accountId: string): Promise<StripeEvent> {
    const account = mustGet(accounts, accountId, 'account')
    const previous = {
      charges_enabled: account.charges_enabled,
      payouts_enabled: account.payouts_enabled,
      details_submitted: account.details_submitted,
      capabilities: structuredClone(account.capabilities),
      requirements: structuredClone(account.requirements)
    }
    account.charges_enabled = true
    account.payouts_enabled = true
    account.details_submitted = true
    account.capabilities = Object.fromEntries(Object.keys(account.capabilities ?? {}).map((name) => [name, 'active'])) as Stripe.Account.Capabilities
    account.requirements = { alternatives: [], current_deadline: null, currently_due: [], disabled_reason: null, errors: [], eventually_due: [], past_due: [], pending_verification: [] }
    // account.updated is a Connect event: it names the account, though the platform holds it.
    return await delivered(emit('account.updated', account, { previous, account: accountId }))
  }

  function createTransfer (ctx: RequestContext): Stripe.Transfer {
    const p = ctx.params
    const amount = requiredAmount(p)
    const currency = currencyParam(p)
    const destination = requiredString(p, 'destination')
    const account = accounts.get(destination)
    if (!account) throw invalid(`No such destination: '${destination}'`, { code: 'resource_missing', param: 'destination' })
    // Stripe refuses transfers to accounts whose transfers capability is not active (yet).
    if (account.capabilities?.transfers !== 'active') {
      throw invalid('Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments', { code: 'insufficient_capabilities_for_transfer', param: 'destination' })
    }
    const sourceTransaction = stringParam(p, 'source_transaction')
    if (sourceTransaction !== undefined && !charges.has(sourceTransaction)) throw noSuch('charge', sourceTransaction, 'source_transaction')
    // With source_transaction Stripe takes the funds from that charge, not the available balance.
    const available = availableBalance(currency)
    if (sourceTransaction === undefined && available < amount) {
      throw invalid(`You have insufficient available funds in your Stripe account (${available} ${currency} available, ${amount} requested).`, { code: 'balance_insufficient' })
    }
    const id = stripeId('tr')
    const destinationPayment = stripeId('py')
    const tx = recordTransaction(PLATFORM, { type: 'transfer', amount: -amount, currency, source: id })
    recordTransaction(destination, { type: 'payment', amount, currency, source: destinationPayment })
    const transfer: Stripe.Transfer = {
      id,
      object: 'transfer',
      amount,
      amount_reversed: 0,
      balance_transaction: tx.id,
      created: now(),
      currency,
      description: stringParam(p, 'description') ?? null,
      destination,
      destination_payment: destinationPayment,
      livemode: false,
      metadata: newMetadata(p),
      reversals: { object: 'list', data: [], has_more: false, url: `/v1/transfers/${id}/reversals` },
      reversed: false,
      source_transaction: sourceTransaction ?? null,
      source_type: 'card',
      transfer_group: stringParam(p, 'transfer_group') ?? null
    }
    return store(transfers, transfer, PLATFORM)
  }

  // A reversal moves money back from the connected account to the platform (the connected
  // balance may go negative, which Stripe then recovers from future payments).
  function reverseTransfer (ctx: RequestContext, transferId: string): Stripe.TransferReversal {
    const transfer = find(transfers, transferId, ctx.owner, 'transfer', 'id')
    const remaining = transfer.amount - transfer.amount_reversed
    if (remaining === 0) throw invalid(`Transfer ${transfer.id} has already been fully reversed.`)
    const amount = amountParam(ctx.params) ?? remaining
    if (amount > remaining) throw invalid(`Reversal amount (${amount}) is greater than the amount not yet reversed (${remaining}).`, { code: 'amount_too_large', param: 'amount' })
    const id = stripeId('trr')
    const destinationRefund = stripeId('pyr')
    const tx = recordTransaction(PLATFORM, { type: 'transfer_refund', amount, currency: transfer.currency, source: id })
    recordTransaction(String(transfer.destination), { type: 'payment_refund', amount: -amount, currency: transfer.currency, source: destinationRefund })
    const reversal: Stripe.TransferReversal = {
      id,
      object: 'transfer_reversal',
      amount,
      balance_transaction: tx.id,
      created: now(),
      currency: transfer.currency,
      destination_payment_refund: destinationRefund,
      metadata: newMetadata(ctx.params),
      source_refund: null,
      transfer: transfer.id
    }
    store(null, reversal, PLATFORM)
    transfer.amount_reversed += amount
    transfer.reversed = transfer.amount_reversed === transfer.amount
    transfer.reversals.data.unshift(reversal)
    return reversal
  }

  // Payouts leave the balance of the account named by Stripe-Account (the platform without it).
  function createPayout (ctx: RequestContext): Stripe.Payout {
    const p = ctx.params
    const amount = requiredAmount(p)
    const currency = currencyParam(p)
    if (ctx.owner !== PLATFORM && accounts.get(ctx.owner)?.payouts_enabled !== true) {
      throw invalid('Payouts are not enabled for this account: it has not finished onboarding.', { code: 'payouts_not_allowed' })
    }
    const available = availableBalance(currency, ctx.owner)
    if (available < amount) {
      throw invalid(`You have insufficient funds in your Stripe account for this payout (${available} ${currency} available, ${amount} requested).`, { code: 'balance_insufficient', param: 'amount' })
    }
    const id = stripeId('po')
    const created = now()
    const tx = recordTransaction(ctx.owner, { type: 'payout', amount: -amount, currency, source: id, description: stringParam(p, 'description') ?? 'STRIPE PAYOUT' })
    const payout: Stripe.Payout = {
      id,
      object: 'payout',
      amount,
      application_fee: null,
      application_fee_amount: null,
      arrival_date: created + 2 * DAY,
      automatic: false,
      balance_transaction: tx.id,
      created,
      currency,
      description: stringParam(p, 'description') ?? null,
      destination: bankAccountOf(ctx.owner),
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      livemode: false,
      metadata: newMetadata(p),
      method: stringParam(p, 'method') ?? 'standard',
      original_payout: null,
      payout_method: null,
      reconciliation_status: 'not_applicable',
      reversed_by: null,
      source_type: 'card',
      statement_descriptor: stringParam(p, 'statement_descriptor') ?? null,
      status: 'pending',
      trace_id: null,
      type: 'bank_account'
    }
    return store(payouts, payout, ctx.owner)
  }

  function pendingPayout (payoutId: string): Stripe.Payout {
    const payout = mustGet(payouts, payoutId, 'payout')
    if (payout.status !== 'pending' && payout.status !== 'in_transit') throw new Error(`fake stripe: payout ${payoutId} is already ${payout.status}`)
    return payout
  }

  // ---- balance -----------------------------------------------------------------------------

  function createdFilter (value: FormValue | undefined): (created: number) => boolean {
    if (value === undefined) return () => true
    const bound = (raw: FormValue | undefined, param: string): number | undefined => {
      if (raw === undefined) return undefined
      if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw invalid(`Invalid integer: ${String(raw)}`, { code: 'parameter_invalid_integer', param })
      return Number(raw)
    }
    if (!isRecord(value)) {
      const exact = bound(value, 'created')
      return (created) => created === exact
    }
    const gt = bound(value.gt, 'created[gt]')
    const gte = bound(value.gte, 'created[gte]')
    const lt = bound(value.lt, 'created[lt]')
    const lte = bound(value.lte, 'created[lte]')
    return (created) => (gt === undefined || created > gt) && (gte === undefined || created >= gte) &&
      (lt === undefined || created < lt) && (lte === undefined || created <= lte)
  }

  // Newest first, like Stripe; entries created in the same second keep their creation order.
  // GET /v1/refunds?charge=…|payment_intent=…, newest first.
  function listRefunds (ctx: RequestContext): Stripe.ApiList<Stripe.Refund> {
    const p = ctx.params
    const limit = integerParam(p, 'limit', 1, 100) ?? 10
    const charge = stringParam(p, 'charge')
    const paymentIntent = stringParam(p, 'payment_intent')
    const matches = [...refunds.values()].filter((r) => (charge === undefined || r.charge === charge) &&
      (paymentIntent === undefined || r.payment_intent === paymentIntent)).reverse()
    return { object: 'list', data: matches.slice(0, limit), has_more: matches.length > limit, url: '/v1/refunds' }
  }

  function listBalanceTransactions (ctx: RequestContext): Stripe.ApiList<Stripe.BalanceTransaction> {
    const p = ctx.params
    const limit = integerParam(p, 'limit', 1, 100) ?? 10
    const entries = ledger(ctx.owner)
    const position = new Map(entries.map((tx, i) => [tx.id, i]))
    const newer = (a: Stripe.BalanceTransaction, b: Stripe.BalanceTransaction): number =>
      b.created - a.created || (position.get(b.id) ?? 0) - (position.get(a.id) ?? 0)
    const inRange = createdFilter(p.created)
    const type = stringParam(p, 'type')
    const source = stringParam(p, 'source')
    const currency = stringParam(p, 'currency')?.toLowerCase()
    let matches = entries.filter((tx) => inRange(tx.created) && (type === undefined || tx.type === type) &&
      (source === undefined || tx.source === source) && (currency === undefined || tx.currency === currency)).sort(newer)
    const cursor = (param: string): Stripe.BalanceTransaction | undefined => {
      const id = stringParam(p, param)
      if (id === undefined) return undefined
      const tx = entries.find((entry) => entry.id === id)
      if (!tx) throw invalid(`No such balance transaction: '${id}'`, { code: 'resource_missing', param })
      return tx
    }
    const after = cursor('starting_after')
    const before = cursor('ending_before')
    let hasMore: boolean
    if (after) {
      matches = matches.filter((tx) => newer(after, tx) < 0)
      hasMore = matches.length > limit
      matches = matches.slice(0, limit)
    } else if (before) {
      // The page just newer than the cursor, still listed newest first.
      matches = matches.filter((tx) => newer(tx, before) < 0)
      hasMore = matches.length > limit
      matches = matches.slice(-limit)
    } else {
      hasMore = matches.length > limit
      matches = matches.slice(0, limit)
    }
    return { object: 'list', data: matches, has_more: hasMore, url: '/v1/balance_transactions' }
  }

  function balance (ctx: RequestContext): Stripe.Balance {
    const currencies = new Set(ledger(ctx.owner).map((tx) => tx.currency))
    if (currencies.size === 0) currencies.add('usd')
    return {
      object: 'balance',
      available: [...currencies].map((currency) => ({ amount: availableBalance(currency, ctx.owner), currency, source_types: { card: availableBalance(currency, ctx.owner) } })),
      livemode: false,
      pending: [...currencies].map((currency) => ({ amount: 0, currency, source_types: { card: 0 } }))
    }
  }

  // ---- HTTP --------------------------------------------------------------------------------

  const routes: Route[] = [
    { method: 'POST', pattern: /^\/v1\/payment_intents$/, handler: createPaymentIntent },
    { method: 'GET', pattern: /^\/v1\/payment_intents\/([^/]+)$/, handler: (ctx, id) => find(paymentIntents, id, ctx.owner, 'payment_intent', 'intent') },
    { method: 'POST', pattern: /^\/v1\/payment_intents\/([^/]+)$/, handler: updatePaymentIntent },
    { method: 'POST', pattern: /^\/v1\/payment_intents\/([^/]+)\/confirm$/, handler: (ctx, id) => confirmIntent(ctx, updatePaymentIntent(ctx, id)) },
    { method: 'POST', pattern: /^\/v1\/payment_intents\/([^/]+)\/cancel$/, handler: cancelPaymentIntent },
    { method: 'GET', pattern: /^\/v1\/charges\/([^/]+)$/, handler: (ctx, id) => find(charges, id, ctx.owner, 'charge', 'charge') },
    { method: 'POST', pattern: /^\/v1\/refunds$/, handler: createRefundFromRequest },
    { method: 'GET', pattern: /^\/v1\/refunds$/, handler: listRefunds },
    { method: 'GET', pattern: /^\/v1\/refunds\/([^/]+)$/, handler: (ctx, id) => find(refunds, id, ctx.owner, 'refund', 'refund') },
    { method: 'GET', pattern: /^\/v1\/disputes\/([^/]+)$/, handler: (ctx, id) => find(disputes, id, ctx.owner, 'dispute', 'dispute') },
    { method: 'POST', pattern: /^\/v1\/accounts$/, handler: createAccount },
    { method: 'GET', pattern: /^\/v1\/accounts\/([^/]+)$/, handler: (ctx, id) => find(accounts, id, PLATFORM, 'account', 'account') },
    { method: 'POST', pattern: /^\/v1\/account_links$/, handler: createAccountLink },
    { method: 'POST', pattern: /^\/v1\/transfers$/, handler: createTransfer },
    { method: 'GET', pattern: /^\/v1\/transfers\/([^/]+)$/, handler: (ctx, id) => find(transfers, id, ctx.owner, 'transfer', 'id') },
    { method: 'POST', pattern: /^\/v1\/transfers\/([^/]+)\/reversals$/, handler: reverseTransfer },
    { method: 'POST', pattern: /^\/v1\/payouts$/, handler: createPayout },
    { method: 'GET', pattern: /^\/v1\/payouts\/([^/]+)$/, handler: (ctx, id) => find(payouts, id, ctx.owner, 'payout', 'payout') },
    { method: 'GET', pattern: /^\/v1\/balance$/, handler: balance },
    { method: 'GET', pattern: /^\/v1\/balance_transactions$/, handler: listBalanceTransactions },
    {
      method: 'GET',
      pattern: /^\/v1\/balance_transactions\/([^/]+)$/,
      handler: (ctx, id) => {
        const tx = ledger(ctx.owner).find((entry) => entry.id === id)
        if (!tx) throw noSuch('balance transaction', id)
        return tx
      }
    },
    { method: 'GET', pattern: /^\/v1\/events\/([^/]+)$/, handler: (ctx, id) => find(eventsById, id, ctx.owner, 'event') }
  ]

  // `expand[]=latest_charge` (or `data.source` in a list) replaces an id with its object.
  function expand (value: unknown, path: string[]): unknown {
    const [field, ...rest] = path
    if (field === undefined) return value
    if (Array.isArray(value)) return value.map((item) => expand(item, path))
    if (!isRecord(value)) return value
    const current = value[field]
    const object = typeof current === 'string' ? objects.get(current) : undefined
    value[field] = expand(object ? structuredClone(object) : current, rest)
    return value
  }

  function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string>, then?: () => void): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body, null, 2), then)
  }

  function authenticate (req: IncomingMessage): void {
    const authorization = header(req, 'authorization')
    if (!authorization) {
      throw new ApiError(401, 'invalid_request_error', "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
    }
    const key = authorization.startsWith('Bearer ')
      ? authorization.slice('Bearer '.length)
      : Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8').split(':')[0] ?? ''
    if (key !== secretKey) throw new ApiError(401, 'invalid_request_error', `Invalid API Key provided: ${redactKey(key)}`)
  }

  // The hosted onboarding page: visiting an account link finishes onboarding and goes back to
  // the link's return_url, so a browser test can walk the whole flow.
  async function onboardingPage (res: ServerResponse, accountId: string): Promise<void> {
    if (!accounts.has(accountId)) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('unknown account')
      return
    }
    await completeOnboarding(accountId)
    const returnUrl = returnUrls.get(accountId)
    if (returnUrl) res.writeHead(302, { location: returnUrl })
    else res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('onboarding complete')
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = `req_${randomString(14)}`
    res.setHeader('Request-Id', requestId)
    const method = req.method ?? 'GET'
    const target = new URL(req.url ?? '/', 'http://127.0.0.1')
    const path = target.pathname
    const body = await readBody(req)
    const params = parseForm(method === 'GET' || method === 'DELETE' ? target.search.slice(1) : body)
    const idempotencyKey = header(req, 'idempotency-key')
    const stripeAccount = header(req, 'stripe-account')
    requests.push({ method, path, params, idempotencyKey, stripeAccount, requestId })

    const onboarding = /^\/connect\/onboarding\/([^/]+)$/.exec(path)
    if (method === 'GET' && onboarding?.[1]) return await onboardingPage(res, decodeURIComponent(onboarding[1]))

    const headers: Record<string, string> = { 'Stripe-Version': header(req, 'stripe-version') ?? API_VERSION }
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey
    if (stripeAccount) headers['Stripe-Account'] = stripeAccount
    const ctx: RequestContext = { params, owner: stripeAccount ?? PLATFORM, request: { id: requestId, idempotency_key: idempotencyKey }, emitted: [] }
    const savedKey = `${ctx.owner}:${idempotencyKey}`
    const fingerprint = JSON.stringify([method, path, params])
    let status = 200
    let result: unknown
    try {
      authenticate(req)
      if (stripeAccount && !accounts.has(stripeAccount)) {
        throw new ApiError(403, 'invalid_request_error', `The provided key '${redactKey(secretKey)}' does not have access to account '${stripeAccount}' (or that account does not exist). Application access may have been revoked.`, { code: 'account_invalid' })
      }
      // A POST repeated with a known Idempotency-Key gets the first response again.
      const saved = method === 'POST' && idempotencyKey ? idempotent.get(savedKey) : undefined
      if (saved) {
        if (saved.fingerprint !== fingerprint) {
          throw new ApiError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`, { code: 'idempotency_error' })
        }
        send(res, saved.status, saved.body, { ...headers, 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId })
        return
      }
      let route: Route | undefined
      let id = ''
      for (const candidate of routes) {
        const match = candidate.method === method ? candidate.pattern.exec(path) : null
        if (match) {
          route = candidate
          id = decodeURIComponent(match[1] ?? '')
          break
        }
      }
      if (!route) {
        throw new ApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`)
      }
      result = route.handler(ctx, id)
      const paths = params.expand
      if (Array.isArray(paths)) {
        result = structuredClone(result)
        for (const expandPath of paths) if (typeof expandPath === 'string') result = expand(result, expandPath.split('.'))
      }
    } catch (err) {
      if (!(err instanceof ApiError)) {
        status = 500
        result = { error: { type: 'api_error', message: `fake stripe: ${String(err)}` } }
      } else {
        status = err.status
        result = { error: err.body }
      }
    }
    // Stripe saves the outcome of a request that ran (a card decline is one), not a request
    // refused up front, so a corrected retry with the same key still goes through.
    if (method === 'POST' && idempotencyKey && (status < 400 || status === 402)) {
      idempotent.set(savedKey, { fingerprint, status, body: structuredClone(result), requestId }) // as it was then
    }
    send(res, status, result, headers, () => {
      for (const event of ctx.emitted) autoDeliverEvent(event).catch(() => {})
    })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { type: 'api_error', message: `fake stripe: ${String(err)}` } }, {})
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`

  // ---- control methods ----------------------------------------------------------------------

  return {
    port,
    url,
    secretKey,
    webhookSecret,
    events,
    requests,
    deliveries,
    paymentIntents,
    charges,
    refunds,
    disputes,
    accounts,
    transfers,
    payouts,
    balanceTransactions: ledger(PLATFORM),

    setWebhookUrl (next) {
      webhookUrl = next
    },

    availableBalance,

    async succeedPaymentIntent (id) {
      const intent = mustGet(paymentIntents, id, 'payment intent')
      if (intent.status === 'succeeded' || intent.status === 'canceled') throw new Error(`fake stripe: payment intent ${id} is already ${intent.status}`)
      return await delivered(succeedIntent(intent, stripeId('pm')))
    },

    async failPaymentIntent (id, failure = {}) {
      const intent = mustGet(paymentIntents, id, 'payment intent')
      if (intent.status === 'succeeded' || intent.status === 'canceled') throw new Error(`fake stripe: payment intent ${id} is already ${intent.status}`)
      // `code` may be an error code ('card_declined', 'expired_card') or a decline code
      // ('insufficient_funds'); Stripe reports the latter under code 'card_declined'.
      const code = failure.code ?? 'card_declined'
      return await delivered(declineIntent(intent, stripeId('pm'), code === 'card_declined' ? 'generic_decline' : code, failure.message))
    },

    async refund (paymentIntentId, amount) {
      const charge = successfulCharge(mustGet(paymentIntents, paymentIntentId, 'payment intent'), 'payment_intent')
      return await delivered(createRefund(charge, amount, {}).event)
    },

    async createDispute (paymentIntentId, amount) {
      const intent = mustGet(paymentIntents, paymentIntentId, 'payment intent')
      const charge = successfulCharge(intent, 'payment_intent')
      const owner = owners.get(charge.id) ?? PLATFORM
      const disputed = amount ?? charge.amount
      const id = stripeId('dp')
      // The disputed amount and Stripe's dispute fee leave the balance when the dispute opens.
      const tx = recordTransaction(owner, { type: 'adjustment', amount: -disputed, currency: charge.currency, fee: DISPUTE_FEE, source: id, description: `Chargeback withdrawal for ${charge.id}`, reportingCategory: 'dispute' })
      tx.fee_details = [{ amount: DISPUTE_FEE, application: null, currency: charge.currency, description: 'Dispute fee', type: 'stripe_fee' }]
      const dispute: FakeDispute = {
        id,
        object: 'dispute',
        amount: disputed,
        balance_transactions: [tx],
        charge: charge.id,
        created: now(),
        currency: charge.currency,
        is_charge_refundable: false,
        livemode: false,
        metadata: {},
        payment_intent: intent.id,
        reason: 'fraudulent',
        status: 'needs_response'
      }
      store(disputes, dispute, owner)
      charge.disputed = true
      return await delivered(emit('charge.dispute.created', dispute))
    },

    async closeDispute (disputeId, outcome) {
      const dispute = mustGet(disputes, disputeId, 'dispute')
      if (dispute.status === 'won' || dispute.status === 'lost') throw new Error(`fake stripe: dispute ${disputeId} is already ${dispute.status}`)
      const previous = { status: dispute.status }
      dispute.status = outcome
      if (outcome === 'won') {
        // A won dispute returns the disputed amount (the fee stays with Stripe).
        const owner = owners.get(dispute.id) ?? PLATFORM
        dispute.balance_transactions.push(recordTransaction(owner, { type: 'adjustment', amount: dispute.amount, currency: dispute.currency, source: dispute.id, description: `Chargeback reversal for ${String(dispute.charge)}`, reportingCategory: 'dispute_reversal' }))
      }
      return await delivered(emit('charge.dispute.closed', dispute, { previous }))
    },

    completeOnboarding,

    async payPayout (payoutId) {
      const payout = pendingPayout(payoutId)
      payout.status = 'paid'
      return await delivered(emit('payout.paid', payout, { previous: { status: 'pending' } }))
    },

    async failPayout (payoutId, code = 'account_closed') {
      const payout = pendingPayout(payoutId)
      const owner = owners.get(payout.id) ?? PLATFORM
      payout.status = 'failed'
      payout.failure_code = code
      payout.failure_message = PAYOUT_FAILURES[code] ?? 'The payout failed.'
      // The bank sent the money back: it is in the account's balance again.
      payout.failure_balance_transaction = recordTransaction(owner, { type: 'payout_failure', amount: payout.amount, currency: payout.currency, source: payout.id, description: 'STRIPE PAYOUT FAILURE' }).id
      return await delivered(emit('payout.failed', payout, { previous: { status: 'pending', failure_code: null, failure_message: null } }))
    },

    injectBalanceTransaction (tx) {
      return recordTransaction(PLATFORM, tx)
    },

    signatureHeader,
    deliver,
    idle,

    async close () {
      await idle()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // The SDK keeps connections alive; without this, close waits for them to time out.
        server.closeAllConnections()
      })
    }
  }
}
