import type { OutgoingEmail, Sender, SendResult } from './types.ts'
import { sendEach } from './send-each.ts'

export interface SmtpSenderOptions {
  // smtp://user:pass@host:587 (STARTTLS when offered) or smtps://... (TLS from the start).
  url: string
  from: string
  concurrency?: number
  timeoutMs: number
}

// Email over SMTP with nodemailer, the alternative to SendGrid: a pool of a few connections
// reused between messages. The SMTP reply code decides a failure: 4xx is temporary (greylisting,
// a full mailbox queue), 5xx permanent (no such mailbox).
export async function createSmtpSender (opts: SmtpSenderOptions): Promise<Sender<OutgoingEmail>> {
  const { createTransport } = await import('nodemailer')
  const url = new URL(opts.url)
  const concurrency = opts.concurrency ?? 3
  const transport = createTransport({
    pool: true,
    maxConnections: concurrency,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
    secure: url.protocol === 'smtps:',
    ...(url.username !== '' && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs
  })

  async function sendOne (message: OutgoingEmail): Promise<SendResult> {
    try {
      const info = await transport.sendMail({ from: opts.from, to: message.to, subject: message.subject, text: message.text, html: message.html })
      return { key: message.key, outcome: 'sent', providerId: info.messageId ?? null }
    } catch (err) {
      const { responseCode } = err as { responseCode?: unknown }
      // No SMTP reply (refused, reset, timed out): sendEach decides.
      if (typeof responseCode !== 'number') throw err
      return { key: message.key, outcome: 'failed', reason: `smtp_${responseCode}`, retryable: responseCode < 500 }
    }
  }

  return {
    provider: 'smtp',
    maxBatch: 100,
    async send (messages) { return await sendEach(messages, concurrency, sendOne) },
    async close () { transport.close() }
  }
}
