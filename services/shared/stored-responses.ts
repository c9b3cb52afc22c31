import { createHash } from 'node:crypto'
import { errors } from '../../lib/errors.ts'
import type { Db } from './transactions.ts'

export interface StoredResponse<T> {
  statusCode: number
  body: T
  replayed: boolean
}

export function requestHash (request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex')
}

// Runs `work` once per (scope, key): a retry gets the first answer back and changes nothing.
// The advisory lock makes a concurrent retry wait for the first attempt to commit or roll
// back, so both see one outcome. Must be called inside the transaction doing the work.
export async function runOnce<T> (
  tx: Db,
  { scope, key, request }: { scope: string, key: string, request: unknown },
  work: () => Promise<{ statusCode: number, body: T }>
): Promise<StoredResponse<T>> {
  const hash = requestHash(request)
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${scope}\n${key}`])
  const { rows } = await tx.query<{ request_hash: string, status_code: number, response: T }>(
    'SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key])
  const stored = rows[0]
  if (stored) {
    if (stored.request_hash !== hash) throw errors.Unprocessable('Idempotency-Key was already used for a different request')
    return { statusCode: stored.status_code, body: stored.response, replayed: true }
  }
  const result = await work()
  await tx.query(`INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
    VALUES ($1, $2, $3, $4, $5)`, [scope, key, hash, result.statusCode, JSON.stringify(result.body)])
  return { ...result, replayed: false }
}
