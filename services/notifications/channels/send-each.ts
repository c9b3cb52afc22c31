import type { SendResult } from './types.ts'

// Runs `work` over the items with at most `concurrency` running at once; results keep the
// items' order.
export async function mapBounded<T, R> (items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  async function worker (): Promise<void> {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker))
  return results
}

// Why a request got no answer: the socket error's code (ECONNREFUSED, ECONNRESET, ETIMEDOUT...),
// also when wrapped as the `cause` of fetch's "fetch failed", or a timeout.
export function noAnswerReason (err: unknown): string {
  const { code, name, cause } = (err ?? {}) as { code?: unknown, name?: unknown, cause?: unknown }
  if (typeof code === 'string' && code !== '') return code
  if (cause !== undefined && cause !== err) {
    const fromCause = noAnswerReason(cause)
    if (fromCause !== 'no_answer') return fromCause
  }
  return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'no_answer'
}

// For providers that take one message per request (FCM v1, SendGrid, SMTP, Twilio). `sendOne`
// maps every answer the provider gave to a result and throws only when no answer came. Such a
// message may or may not have gone, so it is retried on its own; when no message got an answer
// the provider is unreachable and the batch is thrown back whole, as the Sender contract asks.
export async function sendEach<M extends { key: string }> (
  messages: readonly M[],
  concurrency: number,
  sendOne: (message: M) => Promise<SendResult>
): Promise<SendResult[]> {
  type Settled = { message: M, result: SendResult } | { message: M, error: unknown }
  const settled = await mapBounded(messages, concurrency, async (message): Promise<Settled> => {
    try {
      return { message, result: await sendOne(message) }
    } catch (error) {
      return { message, error }
    }
  })
  const first = settled[0]
  if (first !== undefined && 'error' in first && settled.every((s) => 'error' in s)) throw first.error
  return settled.map((s): SendResult => 'result' in s
    ? s.result
    : { key: s.message.key, outcome: 'failed', reason: noAnswerReason(s.error), retryable: true })
}
