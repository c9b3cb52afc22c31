import type { FastifyReply, FastifyRequest } from 'fastify'

// Conditional reads (RFC 9110 section 13.1.2): a read states an ETag built from a version the
// service keeps anyway (a projection version, a row's update time or row version), never from
// hashing the body, and answers 304 when the caller already holds that version.

// Signed-in reads: kept only by the caller's own cache, which asks again every time (cheap
// with If-None-Match) because scores and lists move at any moment.
export const PRIVATE_REVALIDATE = 'private, no-cache'

export function entityTag (...parts: Array<string | number>): string {
  return `"${parts.join('.')}"`
}

// Weak comparison, as If-None-Match asks: W/"x" matches "x"; * matches any current version.
export function matchesIfNoneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined || header === '') return false
  if (header.trim() === '*') return true
  const opaque = etag.replace(/^W\//, '')
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque)
}

// Sets the validators of a read; true when the caller's copy is current and the answer is 304.
// Without an ETag (a read that has no version, e.g. a degraded leaderboard) it is always false.
export function notModified (request: FastifyRequest, reply: FastifyReply, etag: string | null, cacheControl = PRIVATE_REVALIDATE): boolean {
  reply.header('cache-control', cacheControl)
  const vary = reply.getHeader('vary')
  if (vary === undefined || !String(vary).toLowerCase().includes('authorization')) {
    reply.header('vary', vary === undefined ? 'Authorization' : `${String(vary)}, Authorization`)
  }
  if (etag === null) return false
  reply.header('etag', etag)
  return matchesIfNoneMatch(request.headers['if-none-match'], etag)
}
