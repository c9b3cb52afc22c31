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

// Email through @sendgrid/mail (v3 mail/send), on a client of its own rather than the module's
// shared one, one message per request (each has its own subject and body). The SDK loads only
// when email is configured.
export async function createSendgridSender (opts: SendgridSenderOptions): Promise<Sender<OutgoingEmail>> {
  // Both modules export a shared instance; each sender makes its own of the same classes.
  const { default: sharedClient } = await import('@sendgrid/client')
  const { default: sharedMail } = await import('@sendgrid/mail')
  const client = new (sharedClient.constructor as new () => typeof sharedClient)()
  client.setApiKey(opts.apiKey)
  // After setApiKey, which sets the base URL of the key's region.
  if (opts.apiUrl !== undefined) client.setDefaultRequest('baseUrl', opts.apiUrl)
  // Passed through to the HTTP client (axios), which the SDK's types do not name.
  client.setDefaultRequest({ timeout: opts.timeoutMs } as unknown as Parameters<typeof client.setDefaultRequest>[0])
  const mail = new (sharedMail.constructor as new () => typeof sharedMail)()
  mail.setClient(client)

  async function sendOne (message: OutgoingEmail): Promise<SendResult> {
    try {
      const [response] = await mail.send({ to: message.to, from: opts.from, subject: message.subject, text: message.text, html: message.html })
      const id = response.headers['x-message-id']
      return { key: message.key, outcome: 'sent', providerId: typeof id === 'string' ? id : null }
    } catch (err) {
      const { code, response } = err as { code?: unknown, response?: { headers?: Record<string, string>, body?: { errors?: Array<{ message?: string, field?: string }> } } }
      // No HTTP answer (refused, reset, timed out): sendEach decides.
      if (typeof code !== 'number' || response === undefined) throw err
      const detail = response.body?.errors?.[0]?.message
      const reason = detail === undefined ? `http_${code}` : `http_${code}: ${detail}`.slice(0, 200)
      if (code === 429 || code >= 500) {
        return { key: message.key, outcome: 'failed', reason, retryable: true, retryAfterSeconds: retryAfterSeconds(response.headers?.['retry-after']) }
      }
      return { key: message.key, outcome: 'failed', reason, retryable: false }
    }
  }

  return {
    provider: 'sendgrid',
    maxBatch: 100,
    async send (messages) { return await sendEach(messages, opts.concurrency ?? 10, sendOne) }
  }
}
