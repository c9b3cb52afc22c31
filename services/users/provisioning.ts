import type { Db } from '../shared/transactions.ts'

// The claims of a verified token that seed a new user's row.
export interface Claimant {
  id: string
  email: string | null
  displayName: string | null
}

// Ids known to have a row, so provisioning a caller seen before costs no query. Past the
// bound the oldest is forgotten (and costs one idempotent insert when it comes back).
const KNOWN_USERS_MAX = 10_000

// The one place users rows are created: the auth plugin calls it for every verified caller,
// so the first authenticated call of any kind (a profile read, GET /me, a join, a sync, a live
// feed) creates the row from the token's claims; later calls change nothing.
export function createUserProvisioning ({ pool }: { pool: Db }) {
  const known = new Set<string>()

  return async function provisionUser (claimant: Claimant): Promise<void> {
    if (known.has(claimant.id)) return
    await pool.query(`INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)
      ON CONFLICT (id) DO NOTHING`, [claimant.id, claimant.email, (claimant.displayName ?? '').slice(0, 64)])
    known.add(claimant.id)
    if (known.size > KNOWN_USERS_MAX) known.delete(known.values().next().value!)
  }
}

export type ProvisionUser = ReturnType<typeof createUserProvisioning>
