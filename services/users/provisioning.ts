import { errors } from '../../lib/errors.ts'
import type { Db } from '../shared/transactions.ts'

// The claims of a verified token that seed a new user's row.
export interface Claimant {
  id: string
  email: string | null
  displayName: string | null
}

// Ids known to have a live row, so provisioning a caller seen before costs no query. Past the
// bound the oldest is forgotten (and costs one idempotent insert when it comes back).
const KNOWN_USERS_MAX = 10_000
// A known id is asked about again after this long: while deletions announced by other
// instances are heard, as a bound on one announcement lost; while they are not (the subscriber
// is away), sooner, so a deletion made elsewhere is refused here within it.
const HEARD_MAX_AGE_MS = 10 * 60_000
const UNHEARD_MAX_AGE_MS = 30_000

// The one place users rows are created: the auth plugin calls it for every verified caller,
// so the first authenticated call of any kind (a profile read, GET /me, a join, a sync, a live
// feed) creates the row from the token's claims; later calls change nothing. A deleted account
// (a tombstone row) is never created again: its tokens are refused with 401.
export function createUserProvisioning ({ pool, now = Date.now }: { pool: Db, now?: () => number }) {
  const known = new Map<string, number>()
  // Bumped by every forget, so a check that began before a deletion cannot mark the id known.
  let epoch = 0
  let hearing = false

  function isKnown (id: string): boolean {
    const at = known.get(id)
    if (at === undefined) return false
    if (now() - at < (hearing ? HEARD_MAX_AGE_MS : UNHEARD_MAX_AGE_MS)) return true
    known.delete(id)
    return false
  }

  async function provisionUser (claimant: Claimant): Promise<void> {
    if (isKnown(claimant.id)) return
    const started = epoch
    // One round trip: the insert of a new row, or the existing row's state (the SELECT sees the
    // rows as they were before the insert, so a new user reads as no row).
    const { rows } = await pool.query<{ deleted: boolean }>(`WITH created AS (
        INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id)
      SELECT deleted_at IS NOT NULL AS deleted FROM users WHERE id = $1`,
    [claimant.id, claimant.email, (claimant.displayName ?? '').slice(0, 64)])
    if (rows[0]?.deleted === true) throw errors.Unauthorized('This account has been deleted')
    if (started !== epoch) return
    known.delete(claimant.id)
    known.set(claimant.id, now())
    if (known.size > KNOWN_USERS_MAX) known.delete(known.keys().next().value!)
  }

  return {
    provisionUser,
    // An account deleted here or on another instance: its next call is checked again.
    forget (id: string): void {
      known.delete(id)
      epoch++
    },
    // Whether deletions announced by other instances reach this one. When they may have been
    // missed (the subscriber reconnected), every id is checked again.
    hearing (on: boolean): void {
      if (on && !hearing) {
        known.clear()
        epoch++
      }
      hearing = on
    }
  }
}

export type UserProvisioning = ReturnType<typeof createUserProvisioning>
export type ProvisionUser = UserProvisioning['provisionUser']
