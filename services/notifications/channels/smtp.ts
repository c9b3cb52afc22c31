import type { OutgoingEmail, Sender, SendResult } from './types.ts'
import { sendEach } from './send-each.ts'

export interface SmtpSenderOptions {
  // smtp://user:pass@host:587 (STARTTLS when offered) or smtps://... (TLS from the start).
  url: string
  from: string
  concurrency?: number
  timeoutMs: number
}

// What an SMTP reply code says about trying again (RFC 5321): 4xx is temporary (greylisting, a
// full queue), 5xx permanent (no such mailbox), except 503 (bad command sequence), which is
// about the session, not the message. An authentication refusal (535) is our credentials: fixed
// on our side, then the same message goes.
function isRetryable (responseCode: number, code: unknown): boolean {
  return responseCode < 500 || responseCode === 503 || code === 'EAUTH'
}

// Email over SMTP with nodemailer, the alternative to SendGrid: a pool of a few connections
// reused between messages. nodemailer loads only when SMTP is configured.
export async function createSmtpSender (opts: SmtpSenderOptions): Promise<Sender<OutgoingEmail>> {
  const { createTransport } = await import('nodemailer')
  const concurrency = opts.concurrency ?? 3
  // nodemailer reads host, port, credentials and TLS (smtps:) from the URL itself.
  const transport = createTransport({
    url: opts.url,
    pool: true,
    maxConnections: concurrency,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs
  })

  async function sendOne (message: OutgoingEmail): Promise<SendResult> {
    try {
      const info = await transport.sendMail({ from: opts.from, to: message.to, subject: message.subject, text: message.text, html: message.html })
      return { key: message.key, outcome: 'sent', providerId: info.messageId ?? null }
    } catch (err) {
      const { responseCode, code } = err as { responseCode?: unknown, code?: unknown }
      // No SMTP reply (refused, reset, timed out): sendEach decides.
      if (typeof responseCode !== 'number') throw err
      return { key: message.key, outcome: 'failed', reason: `smtp_${responseCode}`, retryable: isRetryable(responseCode, code) }
    }
  }

  return {
    provider: 'smtp',
    maxBatch: 100,
    async send (messages) { return await sendEach(messages, concurrency, sendOne) },
    async close () { transport.close() }
  }
}
