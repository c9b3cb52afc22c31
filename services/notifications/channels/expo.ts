import type { Dispatcher } from 'undici'
import type { ExpoPushMessage, ExpoPushTicket } from 'expo-server-sdk'
import type { ExpoSender, OutgoingPush, PushReceipt, SendResult } from './types.ts'
import { noAnswerReason } from './send-each.ts'

export interface ExpoSenderOptions {
  // Needed only when the Expo project requires access tokens for push.
  accessToken?: string
  // Another API host (a local fake in tests), else Expo's.
  apiUrl?: string
  timeoutMs: number
}

// Expo's documented ticket and receipt errors that pass with time: a device's rate limit, a
// fault at Expo or at FCM/APNs, and push credentials we fix on our side (as FCM's 401/403).
// The rest (DeviceNotRegistered, MessageTooBig, DeveloperError) never go.
const RETRYABLE_ERRORS = new Set(['MessageRateExceeded', 'ExpoError', 'ProviderError', 'InvalidCredentials', 'MismatchSenderId'])
// One request takes 100 messages (the SDK's chunk limit); six go at once.
const MAX_BATCH = 600
const CONCURRENT_REQUESTS = 6

function failed (key: string, reason: string, retryable: boolean, unregistered = false): SendResult {
  return { key, outcome: 'failed', reason, retryable, ...(unregistered && { unregistered: true }) }
}

function ticketResult (key: string, ticket: ExpoPushTicket | undefined): SendResult {
  if (ticket === undefined) return failed(key, 'no_ticket', true)
  if (ticket.status === 'ok') return { key, outcome: 'sent', providerId: ticket.id }
  // The SDK's type lists fewer errors than Expo documents (MismatchSenderId is missing).
  const error: string | undefined = ticket.details?.error
  return failed(key, error ?? ticket.message.slice(0, 200), RETRYABLE_ERRORS.has(error ?? ''), error === 'DeviceNotRegistered')
}

// A request Expo refused as a whole ({ errors: [{ code, message }] } with its status): a rate
// limit the SDK's own two retries did not outlast, a fault, or credentials are worth another try.
function refusedRequest (key: string, status: number, code: unknown): SendResult {
  const retryable = status === 429 || status >= 500 || status === 401 || status === 403
  return failed(key, typeof code === 'string' ? code : `http_${status}`, retryable)
}

// expo-server-sdk builds its URLs from EXPO_BASE_URL, read once when it is first imported: one
// host per process. To point one sender elsewhere, requests go through an undici dispatcher (the
// SDK's `httpAgent` option) that replaces the origin; the path stays the SDK's.
function dispatcherFor (agent: Dispatcher, apiUrl: string | undefined): Dispatcher {
  if (apiUrl === undefined) return agent
  const origin = new URL(apiUrl).origin
  return agent.compose((dispatch) => (options, handler) => dispatch({ ...options, origin }, handler))
}

// Push to Expo push tokens (ExponentPushToken[...]) through expo-server-sdk: tickets at send
// time, receipts later (Expo reports most uninstalled apps there). The SDK and undici load only
// when Expo push is configured. Expo does not send Retry-After; the SDK itself retries a 429
// twice with backoff, and what is left comes back retryable.
export async function createExpoSender (opts: ExpoSenderOptions): Promise<ExpoSender> {
  const [{ Expo }, { Agent }] = await Promise.all([import('expo-server-sdk'), import('undici')])
  const agent = new Agent({ headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, connectTimeout: opts.timeoutMs })
  const expo = new Expo({
    accessToken: opts.accessToken,
    httpAgent: dispatcherFor(agent, opts.apiUrl),
    maxConcurrentRequests: CONCURRENT_REQUESTS
  })

  // One request's results, or the error when it got no answer.
  async function sendChunk (chunk: ExpoPushMessage[], keyOf: (m: ExpoPushMessage) => string): Promise<SendResult[] | { error: unknown }> {
    try {
      const tickets = await expo.sendPushNotificationsAsync(chunk)
      // Tickets come in the order of the messages.
      return chunk.map((message, i) => ticketResult(keyOf(message), tickets[i]))
    } catch (error) {
      const { statusCode, code } = error as { statusCode?: unknown, code?: unknown }
      if (typeof statusCode !== 'number') return { error }
      return chunk.map((message) => refusedRequest(keyOf(message), statusCode, code))
    }
  }

  async function send (pushes: OutgoingPush[]): Promise<SendResult[]> {
    const results: SendResult[] = []
    const keys = new Map<ExpoPushMessage, string>()
    const keyOf = (message: ExpoPushMessage) => keys.get(message) ?? ''
    for (const push of pushes) {
      // Expo refuses a whole request over one malformed token; such a token never works.
      if (!Expo.isExpoPushToken(push.token)) {
        results.push(failed(push.key, 'InvalidExpoPushToken', false, true))
        continue
      }
      const high = push.priority === 'high'
      keys.set({
        to: push.token,
        title: push.title,
        body: push.body,
        data: push.data,
        priority: high ? 'high' : 'normal',
        sound: high ? 'default' : null
      }, push.key)
    }
    const chunks = expo.chunkPushNotifications([...keys.keys()])
    const answers = await Promise.all(chunks.map((chunk) => sendChunk(chunk, keyOf)))
    const unanswered = answers.filter((answer) => 'error' in answer)
    // No request answered: Expo is unreachable and the batch goes back whole. A request without
    // an answer beside answered ones is retried on its own, so theirs are not sent twice.
    if (unanswered.length > 0 && unanswered.length === answers.length) throw unanswered[0]?.error
    answers.forEach((answer, i) => {
      results.push(...'error' in answer
        ? (chunks[i] ?? []).map((message) => failed(keyOf(message), noAnswerReason(answer.error), true))
        : answer)
    })
    return results
  }

  return {
    provider: 'expo',
    maxBatch: MAX_BATCH,
    send,
    async checkReceipts (ids) {
      const found = await Promise.all(expo.chunkPushNotificationReceiptIds(ids).map((chunk) => expo.getPushNotificationReceiptsAsync(chunk)))
      // An id without a receipt is not ready yet, or too old (Expo keeps them about a day).
      return found.flatMap((receipts) => Object.entries(receipts).map(([id, receipt]): PushReceipt => {
        if (receipt.status === 'ok') return { id, status: 'ok', unregistered: false }
        const error: string | undefined = receipt.details?.error
        return { id, status: 'error', unregistered: error === 'DeviceNotRegistered', reason: error ?? receipt.message.slice(0, 200) }
      }))
    },
    async close () {
      await agent.close()
    }
  }
}
