import { errors } from '../../lib/errors.ts'

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
