// Seconds to wait from a Retry-After header, which holds either delay-seconds or an HTTP date
// (RFC 9110, 10.2.3); undefined when absent or unreadable.
export function retryAfterSeconds (value: string | null | undefined, now = Date.now()): number | undefined {
  const text = value?.trim()
  if (!text) return undefined
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000))
}
