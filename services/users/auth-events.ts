import { createHash, timingSafeEqual } from 'node:crypto'
import { Value } from 'typebox/value'
import { errors } from '../../lib/errors.ts'
import { SupabaseAuthEventSchema } from '../../schemas/leaving.ts'
import type { AccountDeletion, DeletionResult } from './deletion.ts'

// Events from Supabase Auth: a Database Webhook on auth.users posts each deleted row, and the
// account is deleted here as an admin's forced deletion would (the identity is already gone,
// so nothing can be settled first).

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export function createAuthEvents ({ secret, deletion }: { secret: string, deletion: Pick<AccountDeletion, 'deleteAccount'> }) {
  // Compared as digests, so neither the time taken nor a length difference tells anything.
  function authenticate (given: string | undefined): void {
    if (secret === '' || given === undefined || !timingSafeEqual(digest(secret), digest(given))) {
      throw errors.Unauthorized('Missing or wrong X-Webhook-Secret')
    }
  }

  // null: not a deletion of an auth user, or one the service never saw (nothing to do).
  async function receive (givenSecret: string | undefined, body: unknown): Promise<DeletionResult | null> {
    authenticate(givenSecret)
    if (!Value.Check(SupabaseAuthEventSchema, body)) throw errors.BadRequest('Not a Supabase Database Webhook payload')
    const event = body
    if (event.type !== 'DELETE' || event.schema !== 'auth' || event.table !== 'users' || event.old_record === null) return null
    return await deletion.deleteAccount(event.old_record.id.toLowerCase(), { origin: 'auth', force: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) return null
      throw err
    })
  }

  return { receive }
}

export type AuthEvents = ReturnType<typeof createAuthEvents>
