import type { ExpoSender, OutgoingPush, PushReceipt, SendResult } from './types.ts'

export interface ExpoSenderOptions {
  // Needed only when the Expo project requires access tokens for push.
  accessToken?: string
  // Another API host (a local fake in tests), else Expo's.
  apiUrl?: string
  timeoutMs: number
}

// Expo's push service takes up to 100 messages a request and 1,000 receipt ids.
const SEND_CHUNK = 100
const RECEIPT_CHUNK = 1000

// Ticket and receipt errors Expo documents; only a rate limit is worth another try.
function ticketFailure (key: string, error: string | undefined, message: string): SendResult {
  const reason = error ?? message.slice(0, 200)
  return { key, outcome: 'failed', reason, retryable: error === 'MessageRateExceeded', unregistered: error === 'DeviceNotRegistered' }
}

// Push to Expo tokens through expo-server-sdk. The SDK reads its host once per process from an
// environment variable, so another host is given per sender as an undici dispatcher (the SDK's
// `httpAgent`) that sends every request to that origin instead. The SDK retries a 429 twice
// itself; what is left comes back here as a retryable failure.
export async function createExpoSender (opts: ExpoSenderOptions): Promise<ExpoSender> {
  const { Expo } = await import('expo-server-sdk')
  const { Agent } = await import('undici')
  const agent = new Agent({ headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, connectTimeout: opts.timeoutMs })
  const origin = opts.apiUrl === undefined ? null : new URL(opts.apiUrl).origin
  const dispatcher = origin === null ? agent : agent.compose((dispatch) => (options, handler) => dispatch({ ...options, origin }, handler))
  const expo = new Expo({ accessToken: opts.accessToken, httpAgent: dispatcher, maxConcurrentRequests: 6 })

  async function sendChunk (messages: OutgoingPush[]): Promise<SendResult[]> {
    let tickets
    try {
      tickets = await expo.sendPushNotificationsAsync(messages.map((m) => ({
        to: m.token,
        title: m.title,
        body: m.body,
        data: m.data,
        priority: m.priority === 'high' ? 'high' as const : 'normal' as const,
        sound: m.priority === 'high' ? 'default' as const : null
      })))
    } catch (err) {
      const { statusCode, code } = err as { statusCode?: unknown, code?: unknown }
      // No HTTP answer: the batch's fate is unknown to us, the dispatcher retries it.
      if (typeof statusCode !== 'number') throw err
      const reason = typeof code === 'string' ? code : `http_${statusCode}`
      const retryable = statusCode === 429 || statusCode >= 500
      return messages.map((m) => ({ key: m.key, outcome: 'failed' as const, reason, retryable }))
    }
    // Tickets come in the order of the messages.
    return messages.map((m, i): SendResult => {
      const ticket = tickets[i]!
      return ticket.status === 'ok'
        ? { key: m.key, outcome: 'sent', providerId: ticket.id }
        : ticketFailure(m.key, ticket.details?.error, ticket.message)
    })
  }

  return {
    provider: 'expo',
    maxBatch: SEND_CHUNK,
    async send (messages) {
      const results: SendResult[] = []
      for (let i = 0; i < messages.length; i += SEND_CHUNK) results.push(...await sendChunk(messages.slice(i, i + SEND_CHUNK)))
      return results
    },
    async checkReceipts (ids) {
      const receipts: PushReceipt[] = []
      for (let i = 0; i < ids.length; i += RECEIPT_CHUNK) {
        const found = await expo.getPushNotificationReceiptsAsync(ids.slice(i, i + RECEIPT_CHUNK))
        for (const [id, receipt] of Object.entries(found)) {
          receipts.push(receipt.status === 'ok'
            ? { id, status: 'ok', unregistered: false }
            : { id, status: 'error', unregistered: receipt.details?.error === 'DeviceNotRegistered', reason: receipt.details?.error ?? receipt.message })
        }
      }
      return receipts
    },
    async close () { await agent.close() }
  }
}
