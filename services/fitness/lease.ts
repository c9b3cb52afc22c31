import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { errors } from '../../lib/errors.ts'

export interface LeaseOptions {
  pool: Pick<pg.Pool, 'query'>
  // Longest a sync waits for another sync of the same user.
  waitMs: number
  // A lease outlives a crashed instance by at most this long.
  ttlMs: number
}

// Runs one user's syncs one at a time across all instances. Within this instance callers
// queue on a promise chain; across instances they take a row lease in Postgres (polling with
// a short backoff), so no database connection is held while waiting or while the leaderboard
// is updated.
export function createUserLease (opts: LeaseOptions) {
  const local = new Map<string, Promise<unknown>>()

  async function acquire (userId: string, holder: string): Promise<void> {
    const deadline = Date.now() + opts.waitMs
    let pause = 10
    for (;;) {
      const { rowCount } = await opts.pool.query({
        // Named: taken and released once per device sync.
        name: 'fitness-lease-acquire',
        text: `INSERT INTO fitness_sync_leases (user_id, holder, expires_at)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (user_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE fitness_sync_leases.expires_at < now()`,
        values: [userId, holder, opts.ttlMs]
      })
      if (rowCount === 1) return
      if (Date.now() >= deadline) throw errors.Conflict('Another sync for this user is still running; retry shortly')
      await sleep(pause + Math.random() * pause)
      pause = Math.min(pause * 2, 200)
    }
  }

  // A lease that cannot be released (database gone) simply expires; the sync's own outcome
  // is what the caller needs to hear about.
  async function release (userId: string, holder: string): Promise<void> {
    await opts.pool.query({ name: 'fitness-lease-release', text: 'DELETE FROM fitness_sync_leases WHERE user_id = $1 AND holder = $2', values: [userId, holder] })
      .catch(() => {})
  }

  return async function withUserLease<T> (userId: string, fn: () => Promise<T>): Promise<T> {
    const previous = local.get(userId) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(async () => {
      const holder = randomUUID()
      await acquire(userId, holder)
      try {
        return await fn()
      } finally {
        await release(userId, holder)
      }
    })
    local.set(userId, run)
    try {
      return await run
    } finally {
      if (local.get(userId) === run) local.delete(userId)
    }
  }
}
