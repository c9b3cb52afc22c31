import { errors } from '../../lib/errors.ts'
import { isUuid } from '../../lib/uuid.ts'

// Opaque cursors: base64url of the last row's sort key, so clients cannot depend on its shape.
export function encodeCursor (key: Array<string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

// Returns the sort key, or throws 400 when the cursor was not made by encodeCursor with this shape.
export function decodeCursor (cursor: string, shape: Array<'string' | 'number'>): Array<string | number> {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw errors.BadRequest('cursor is invalid')
  }
  const valid = Array.isArray(key) && key.length === shape.length && key.every((v: unknown, i) => (shape[i] === 'number' ? Number.isSafeInteger(v) : typeof v === 'string'))
  if (!valid) throw errors.BadRequest('cursor is invalid')
  return key as Array<string | number>
}

// Keyset pages over (created_at, id), newest first, with the timestamp's full microsecond
// precision (an ISO string would cut it to milliseconds and skip rows at a page boundary).
// The select list adds CREATED_AT_MICROS; the query filters with createdBefore(n), whose
// parameters $n and $n+1 are the decoded cursor (both null on the first page).
export const CREATED_AT_MICROS = '(extract(epoch FROM created_at) * 1000000)::bigint::text AS created_at_us'

export function createdBefore (n: number): string {
  return `($${n}::bigint IS NULL OR (created_at, id) < (timestamptz 'epoch' + $${n}::bigint * interval '1 microsecond', $${n + 1}::uuid))`
}

export function decodeCreatedCursor (cursor: string | undefined): [number | null, string | null] {
  if (cursor === undefined) return [null, null]
  const [micros, id] = decodeCursor(cursor, ['number', 'string']) as [number, string]
  if (!isUuid(id)) throw errors.BadRequest('cursor is invalid')
  return [micros, id]
}

export function createdCursor (row: { created_at_us: string, id: string }): string {
  return encodeCursor([Number(row.created_at_us), row.id])
}
