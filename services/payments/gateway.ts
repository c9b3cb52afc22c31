import type Stripe from 'stripe'
import { errors } from '../../lib/errors.ts'

export type Gateway = Stripe

export interface GatewayOptions {
  secretKey: string
  // Another API host (a local fake in tests), else Stripe's own.
  apiUrl?: string
  timeoutMs: number
}

// The Stripe SDK, pinned to the API version it was built for, retrying idempotent requests
// itself (every POST we send carries an idempotency key). Loaded only when payments are
// configured: importing it loads Node's bundled fetch (undici), which nothing else here needs.
export async function createGateway (opts: GatewayOptions): Promise<Gateway> {
  const { default: StripeSdk } = await import('stripe')
  const url = opts.apiUrl ? new URL(opts.apiUrl) : null
  return new StripeSdk(opts.secretKey, {
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

// The SDK's error classes, told apart by the `type` every StripeError carries (the SDK itself
// is loaded lazily, so its classes are not imported here).
export function stripeErrorType (err: unknown): string | null {
  const type = (err as { type?: unknown } | null)?.type
  return err instanceof Error && typeof type === 'string' && type.startsWith('Stripe') ? type : null
}

// A refusal the gateway will repeat however often we ask (bad request, declined, no
// permission), as opposed to a network or server fault worth retrying.
export function isPermanentRefusal (err: unknown): boolean {
  return ['StripeInvalidRequestError', 'StripeCardError', 'StripePermissionError'].includes(stripeErrorType(err) ?? '')
}

// The gateway's refusal of a user's request as our error shape; anything else is rethrown.
export function asClientError (err: unknown): never {
  if (stripeErrorType(err) !== null) {
    throw errors.GatewayError(`Payment gateway refused the request: ${(err as Error).message}`)
  }
  throw err
}
