import type { OutgoingEmail, Sender, SendResult } from './types.ts'
import { sendEach } from './send-each.ts'
import { retryAfterSeconds } from './retry-after.ts'

export interface SendgridSenderOptions {
  apiKey: string
  // The verified sender, e.g. "Health Competition <no-reply@example.com>".
  from: string
  // Another API host (a local fake in tests), else SendGrid's.
  apiUrl?: string
  concurrency?: number
  timeoutMs: number
}

interface SendgridError {
  code?: unknown
  response?: { headers?: Record<string, unknown>, body?: { errors?: Array<{ message?: string }> } }
}

const MAX_BATCH = 100
const DEFAULT_CONCURRENCY = 10

function header (headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name]
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined
}

// How long SendGrid asks us to wait after a 429: Retry-After when sent, else until
// X-RateLimit-Reset (a Unix time), the header its rate-limit documentation names.
function rateLimitWait (headers: Record<string, unknown> | undefined, now = Date.now()): number | undefined {
  const retryAfter = retryAfterSeconds(header(headers, 'retry-after'), now)
  if (retryAfter !== undefined) return retryAfter
  const reset = Number(header(headers, 'x-ratelimit-reset'))
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, Math.ceil(reset - now / 1000)) : undefined
}

// SendGrid's answer to a refused mail/send: { errors: [{ message, field, help }] } and a status.
function refusal (key: string, status: number, response: SendgridError['response']): SendResult {
  const detail = response?.body?.errors?.[0]?.message
  const reason = (detail === undefined ? `http_${status}` : `http_${status}: ${detail}`).slice(0, 200)
  if (status === 429 || status >= 500) {
    const wait = status === 429 ? rateLimitWait(response?.headers) : retryAfterSeconds(header(response?.headers, 'retry-after'))
    return { key, outcome: 'failed', reason, retryable: true, ...(wait !== undefined && { retryAfterSeconds: wait }) }
  }
  // 400 (a bad address), 401/403 (key or sender identity), 413 (too large): the same again.
  return { key, outcome: 'failed', reason, retryable: false }
}

// Email through @sendgrid/mail (v3 mail/send) on a client of its own rather than the module's
// shared one, so two senders never share a key or host. One message per request, a few at once:
// mail/send takes many personalizations, but each of our messages has its own subject and body.
// The SDK loads only when email is configured.
export async function createSendgridSender (opts: SendgridSenderOptions): Promise<Sender<OutgoingEmail>> {
  // Both modules export a shared instance (their classes are exported too, but their types
  // do not say so under `export =`); each sender makes its own from those classes.
  const [{ default: sharedClient }, { default: sharedMail }] = await Promise.all([import('@sendgrid/client'), import('@sendgrid/mail')])
  const client = new (sharedClient.constructor as new () => typeof sharedClient)()
  client.setApiKey(opts.apiKey)
  // After setApiKey, which sets the base URL of the key's region.
  if (opts.apiUrl !== undefined) client.setDefaultRequest('baseUrl', opts.apiUrl)
  const mail = new (sharedMail.constructor as new () => typeof sharedMail)()
  mail.setClient(client)
  mail.setTimeout(opts.timeoutMs)

  async function sendOne (message: OutgoingEmail): Promise<SendResult> {
    try {
      const [response] = await mail.send({ to: message.to, from: opts.from, subject: message.subject, text: message.text, html: message.html })
      return { key: message.key, outcome: 'sent', providerId: header(response.headers, 'x-message-id') ?? null }
    } catch (err) {
      const { code, response } = err as SendgridError
      // No HTTP answer (refused, reset, timed out): sendEach decides.
      if (typeof code !== 'number' || response === undefined) throw err
      return refusal(message.key, code, response)
    }
  }

  return {
    provider: 'sendgrid',
    maxBatch: MAX_BATCH,
    async send (messages) { return await sendEach(messages, opts.concurrency ?? DEFAULT_CONCURRENCY, sendOne) }
  }
}
