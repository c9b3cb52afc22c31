import type { OutgoingSms, Sender, SendResult } from './types.ts'
import { sendEach } from './send-each.ts'

export interface TwilioSenderOptions {
  accountSid: string
  authToken: string
  // A sender number (E.164) or a messaging service; one of them.
  from?: string
  messagingServiceSid?: string
  // Another API host (a local fake in tests), else Twilio's.
  apiUrl?: string
  concurrency?: number
  timeoutMs: number
}

// Twilio error codes that will not change however often we retry.
// 21211: invalid 'To' number; 21408: region not enabled; 21610: the recipient replied STOP;
// 21612: not reachable from this sender; 21614: not a mobile number.
const PERMANENT_CODES = new Set([21211, 21408, 21610, 21612, 21614])
// Twilio's own "too many requests" code, sent with 429.
const RATE_LIMITED = 20429

// SMS through the Twilio SDK (Messages resource, one message per request). The SDK loads only
// when SMS is configured; its own retries are off so the dispatcher's backoff decides. Twilio's
// errors ({ code, message, more_info, status }) reach us without the response headers, so a 429
// carries no Retry-After.
export async function createTwilioSender (opts: TwilioSenderOptions): Promise<Sender<OutgoingSms>> {
  if ((opts.from === undefined) === (opts.messagingServiceSid === undefined)) {
    throw new Error('Twilio needs exactly one of TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID')
  }
  const { default: twilio } = await import('twilio')
  const client = twilio(opts.accountSid, opts.authToken, { autoRetry: false, timeout: opts.timeoutMs })
  // Each Twilio domain joins its `baseUrl` (https://api.twilio.com) with the resource path; the
  // Messages resource lives on the `api` domain.
  if (opts.apiUrl !== undefined) client.api.baseUrl = opts.apiUrl.replace(/\/$/, '')
  const sender = opts.from !== undefined ? { from: opts.from } : { messagingServiceSid: opts.messagingServiceSid! }

  async function sendOne (message: OutgoingSms): Promise<SendResult> {
    try {
      const sent = await client.messages.create({ to: message.to, body: message.body, ...sender })
      return { key: message.key, outcome: 'sent', providerId: sent.sid }
    } catch (err) {
      const { status, code } = err as { status?: unknown, code?: unknown }
      // No HTTP answer (refused, reset, timed out): sendEach decides.
      if (typeof status !== 'number') throw err
      const twilioCode = typeof code === 'number' ? code : null
      const reason = twilioCode === null ? `http_${status}` : String(twilioCode)
      if (status === 429 || twilioCode === RATE_LIMITED) return { key: message.key, outcome: 'failed', reason, retryable: true }
      if (twilioCode !== null && PERMANENT_CODES.has(twilioCode)) return { key: message.key, outcome: 'failed', reason, retryable: false }
      // 5xx and 401/403 (credentials being rotated) may pass later; other 4xx will not.
      return { key: message.key, outcome: 'failed', reason, retryable: status >= 500 || status === 401 || status === 403 }
    }
  }

  return {
    provider: 'twilio',
    maxBatch: 50,
    async send (messages) { return await sendEach(messages, opts.concurrency ?? 10, sendOne) }
  }
}
