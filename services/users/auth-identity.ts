import { errors } from '../../lib/errors.ts'

// The Supabase Auth user behind a deleted account holds personal data too (email, sign-in
// methods): it is deleted through the Auth admin API by a job the deletion enqueues in its
// transaction, retried until Supabase answers. Its deletion then reaches the webhook, which
// finds the account already deleted and changes nothing.

export const AUTH_USER_DELETION_QUEUE = 'users.delete-auth-user'

export interface AuthAdmin {
  url: string
  serviceKey: string
  timeoutMs?: number
}

export function createAuthUserRemoval ({ url, serviceKey, timeoutMs = 10_000 }: AuthAdmin) {
  const base = `${url.replace(/\/+$/, '')}/auth/v1/admin/users`
  return async function removeAuthUser (userId: string): Promise<void> {
    const res = await fetch(`${base}/${encodeURIComponent(userId)}`, {
      method: 'DELETE',
      headers: { apikey: serviceKey, authorization: `Bearer ${serviceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ should_soft_delete: false }),
      signal: AbortSignal.timeout(timeoutMs)
    })
    await res.body?.cancel()
    // 404: already gone (deleted in Supabase first, or never there).
    if (res.ok || res.status === 404) return
    throw errors.GatewayError(`Supabase Auth answered ${res.status} to deleting the user`)
  }
}
