import { errors } from '../../lib/errors.ts'
import { isUuid } from '../../lib/uuid.ts'

// Opaque cursors: base64url of a row's sort key, so clients cannot depend on its shape. A
// `next` cursor holds the last row of a page and asks for the rows after it; a `prev` cursor
// holds the first row and asks for the rows before it.
export type Direction = 'next' | 'prev'
export interface PageCursor { key: Array<string | number>, direction: Direction }

export function encodeCursor (key: Array<string | number>, direction: Direction = 'next'): string {
  return Buffer.from(JSON.stringify(direction === 'prev' ? { prev: key } : key)).toString('base64url')
}

// The sort key and direction, or 400 when the cursor was not made by encodeCursor with this shape.
export function decodePageCursor (cursor: string, shape: Array<'string' | 'number'>): PageCursor {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw errors.BadRequest('cursor is invalid')
  }
  const prev = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { prev?: unknown }).prev : undefined
  const key = prev ?? parsed
  const valid = Array.isArray(key) && key.length === shape.length && key.every((v: unknown, i) => (shape[i] === 'number' ? Number.isSafeInteger(v) : typeof v === 'string'))
  if (!valid) throw errors.BadRequest('cursor is invalid')
  return { key: key as Array<string | number>, direction: prev === undefined ? 'next' : 'prev' }
}

// A forward-only list's cursor: its key, or 400 (a prev cursor included).
export function decodeCursor (cursor: string, shape: Array<'string' | 'number'>): Array<string | number> {
  const { key, direction } = decodePageCursor(cursor, shape)
  if (direction !== 'next') throw errors.BadRequest('cursor is invalid')
  return key
}

// A page request of a keyset list: the cursor's key (null on the first page) and whether it
// walks backward. A list queries `limit + 1` rows beyond the key with `compare` and `order`
// (descending lists: '<' and DESC forward, '>' and ASC backward) and gives them to pageOf.
// A page of a list, with the cursors of the pages next to it.
export interface Page<T> { items: T[], nextCursor: string | null, prevCursor: string | null }

export interface PageRequest { key: Array<string | number> | null, backward: boolean, compare: '<' | '>', order: 'ASC' | 'DESC' }

export function pageRequest (cursor: string | undefined, shape: Array<'string' | 'number'>, descending = true): PageRequest {
  const decoded = cursor === undefined ? null : decodePageCursor(cursor, shape)
  const backward = decoded?.direction === 'prev'
  const down = descending !== backward
  return { key: decoded?.key ?? null, backward, compare: down ? '<' : '>', order: down ? 'DESC' : 'ASC' }
}

// The rows of a page in list order, with the cursors of the pages next to it: next holds the
// last row's key, prev the first's. Forward, a next page exists when a row beyond the limit
// came back and a previous one when a cursor was followed; backward, the other way round.
export function pageOf<R> (rows: R[], limit: number, request: PageRequest, keyOf: (row: R) => Array<string | number>) {
  const more = rows.length > limit
  const page = rows.slice(0, limit)
  if (request.backward) page.reverse()
  const first = page[0]
  const last = page.at(-1)
  const hasNext = request.backward ? last !== undefined : more
  const hasPrev = request.backward ? more : request.key !== null && first !== undefined
  return {
    rows: page,
    nextCursor: hasNext && last !== undefined ? encodeCursor(keyOf(last)) : null,
    prevCursor: hasPrev && first !== undefined ? encodeCursor(keyOf(first), 'prev') : null
  }
}

// Keyset pages over (created_at, id), newest first, with the timestamp's full microsecond
// precision (an ISO string would cut it to milliseconds and skip rows at a page boundary).
// The select list adds CREATED_AT_MICROS; the query filters with createdBeyond(request, n),
// whose parameters $n and $n+1 are createdKey(request) (both null on the first page), orders
// by createdOrder(request) and hands the rows to pageOf with createdKeyOf.
export const CREATED_AT_MICROS = '(extract(epoch FROM created_at) * 1000000)::bigint::text AS created_at_us'

export function createdPageRequest (cursor: string | undefined): PageRequest {
  const request = pageRequest(cursor, ['number', 'string'])
  if (request.key !== null && !isUuid(String(request.key[1]))) throw errors.BadRequest('cursor is invalid')
  return request
}

export function createdKey (request: PageRequest): [number | null, string | null] {
  return request.key === null ? [null, null] : [request.key[0] as number, request.key[1] as string]
}

export function createdBeyond (request: PageRequest, n: number): string {
  return `($${n}::bigint IS NULL OR (created_at, id) ${request.compare} (timestamptz 'epoch' + $${n}::bigint * interval '1 microsecond', $${n + 1}::uuid))`
}

export function createdOrder (request: PageRequest, alias = ''): string {
  return `${alias}created_at ${request.order}, ${alias}id ${request.order}`
}

export function createdKeyOf (row: { created_at_us: string, id: string }): [number, string] {
  return [Number(row.created_at_us), row.id]
}
