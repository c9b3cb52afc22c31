// Messages per second this instance hands to providers, as a token bucket (a second's worth
// may go at once). Sending costs CPU per message (FCM takes one HTTPS request each), so a
// 100,000-participant competition ending is spread out instead of taking the API's cores.

export type SendRate = (messages: number) => Promise<void>

export function createSendRate (perSecond: number, now = () => performance.now()): SendRate {
  let available = perSecond
  let at = now()
  return async function take (messages: number): Promise<void> {
    for (;;) {
      const t = now()
      available = Math.min(perSecond, available + (t - at) * perSecond / 1000)
      at = t
      // A batch larger than a second's worth goes once the bucket is full.
      if (available >= Math.min(messages, perSecond)) {
        available -= messages
        return
      }
      await new Promise((resolve) => setTimeout(resolve, Math.ceil((Math.min(messages, perSecond) - available) * 1000 / perSecond)))
    }
  }
}
