import Stripe from 'stripe'
import { errors } from '../../lib/errors.ts'

export type Gateway = Stripe

export interface GatewayOptions {
  secretKey: string
  // Another API host (a local fake in tests), else Stripe's own.
  apiUrl?: string
  timeoutMs: number
}

// The Stripe SDK, pinned to the API version it was built for, retrying idempotent requests
// itself (every POST we send carries an idempotency key).
export function createGateway (opts: GatewayOptions): Gateway {
  const url = opts.apiUrl ? new URL(opts.apiUrl) : null
  return new Stripe(opts.secretKey, {
    maxNetworkRetries: 2,
    timeout: opts.timeoutMs,
    appInfo: { name: 'health-competition' },
    ...(url && {
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http'
    })
  })
}

// A refusal the gateway will repeat however often we ask (bad request, declined, no
// permission), as opposed to a network or server fault worth retrying.
export function isPermanentRefusal (err: unknown): boolean {
  return err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeCardError ||
    err instanceof Stripe.errors.StripePermissionError
}

// The gateway's refusal of a user's request as our error shape; anything else is rethrown.
export function asClientError (err: unknown): never {
  if (err instanceof Stripe.errors.StripeError) {
    throw errors.GatewayError(`Payment gateway refused the request: ${err.message}`)
  }
  throw err
}
