import type pg from 'pg'
import type { LeaderboardProjection } from './projection.ts'
import type { LeaderboardStore } from './store.ts'

export interface ReconcilerDeps {
  pool: Pick<pg.Pool, 'query'>
  store: Pick<LeaderboardStore, 'projectionRow'>
  projection: Pick<LeaderboardProjection, 'apply' | 'remove' | 'setProfile'>
  // A change the projection took (or found its projection missing).
  projected: (competitionId: string, result: { projectionMissing: boolean }) => void
  // The projection could not be told: it is rebuilt from Postgres later.
  markDirty: (competitionId: string, err: unknown) => void
}

// Brings one participant's entry in line with Postgres: added (with the stored score) while
// they take part, removed once they left. It reads the truth instead of trusting the event,
// so joins and leaves may arrive late, twice or out of order (the outbox's jobs, a rebuild's
// second look) and the projection still ends as Postgres says. Calls for one participant run
// one after another, so a later read is never overwritten by an earlier one.
export function createParticipantReconciler (deps: ReconcilerDeps) {
  const { pool, store, projection, projected, markDirty } = deps
  const chains = new Map<string, Promise<void>>()

  function serial (key: string, task: () => Promise<void>): Promise<void> {
    const next = (chains.get(key) ?? Promise.resolve()).then(task, task)
    const settled = next.catch(() => {}).finally(() => { if (chains.get(key) === settled) chains.delete(key) })
    chains.set(key, settled)
    return next
  }

  return async function reconcileParticipant (event: { competitionId: string, userId: string }): Promise<void> {
    const { competitionId, userId } = event
    await serial(`${competitionId}|${userId}`, async () => {
      const row = await store.projectionRow(pool, competitionId, userId)
      try {
        if (row === null) {
          projected(competitionId, await projection.remove(competitionId, userId))
          return
        }
        await projection.setProfile(competitionId, userId, row)
        projected(competitionId, await projection.apply(competitionId, [{ ...row }], true))
      } catch (err) {
        markDirty(competitionId, err)
      }
    })
  }
}

export type ReconcileParticipant = ReturnType<typeof createParticipantReconciler>
