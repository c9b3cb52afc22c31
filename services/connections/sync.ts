import { createHash } from 'node:crypto'
import type { DeletionInput, SampleInput, Source } from '../../schemas/fitness.ts'
import type { CloudProvider, CloudProviderName, FetchedRecords, ProviderWork } from '../providers/cloud/types.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { addDays, isValidTimeZone, zoneDay } from '../shared/time-zones.ts'
import type { Db } from '../shared/transactions.ts'
import type { ConnectionStore } from './store.ts'
import { NotConnectedError, type TokenKeeper } from './tokens.ts'

// Provider data comes in by jobs: a webhook, the backfill on connect and the periodic
// reconciliation each enqueue a job naming the user and what to fetch; the job fetches with the
// user's token and ingests like a device push. Ingestion is keyed by (user, source, external id)
// with a version, so a job run twice, a replayed webhook or a reconciliation that fetches what a
// webhook already brought change nothing twice.

export const PROVIDER_SYNC_QUEUE = 'provider-sync'
export const PROVIDER_RECONCILE_QUEUE = 'provider-reconcile'

// days: a range of local days (backfill, reconciliation); subscribe: a new connection asks
// for notifications where the provider subscribes per user.
export type SyncWork = ProviderWork | { kind: 'days', from: string, to: string } | { kind: 'subscribe' }
export interface ProviderSyncJob { provider: CloudProviderName, userId: string, work: SyncWork }

export type Ingest = (userId: string, source: Source, samples: SampleInput[], deletions: DeletionInput[]) => Promise<unknown>

export interface SyncDeps {
  pool: Db
  jobs: JobQueue
  store: ConnectionStore
  tokens: TokenKeeper
  providers: Partial<Record<CloudProviderName, CloudProvider>>
  ingest: Ingest
  batchMax: number
  backfillDays: number
  reconcileDays: number
  now: () => Date
}

// Jobs of one key coalesce while one waits (the waiting one will fetch the newer data); data
// carried in the notification itself is keyed by its content, so no push is dropped.
export function jobKey (job: ProviderSyncJob): string {
  return `${job.provider}:${job.userId}:${workKey(job.work)}`
}

function workKey (work: SyncWork): string {
  switch (work.kind) {
    case 'day': return `day:${work.day}`
    case 'object': return `object:${work.id}:${work.deleted}`
    case 'days': return `days:${work.from}:${work.to}`
    case 'callback': return `callback:${work.url}`
    case 'records': return `records:${createHash('sha256').update(JSON.stringify(work.samples)).digest('base64url')}`
    default: return work.kind
  }
}

export function createProviderSync (deps: SyncDeps) {
  async function timeZoneOf (userId: string): Promise<string> {
    const { rows } = await deps.pool.query<{ time_zone: string | null }>('SELECT time_zone FROM users WHERE id = $1', [userId])
    const zone = rows[0]?.time_zone
    return zone != null && isValidTimeZone(zone) ? zone : 'UTC'
  }

  async function ingest (userId: string, provider: CloudProvider, records: FetchedRecords): Promise<void> {
    const { samples, deletions } = records
    for (let i = 0; i < Math.max(samples.length, deletions.length); i += deps.batchMax) {
      await deps.ingest(userId, provider.source, samples.slice(i, i + deps.batchMax), deletions.slice(i, i + deps.batchMax))
    }
  }

  async function enqueue (db: Db, jobs: ProviderSyncJob[], startAfter?: Date): Promise<void> {
    await deps.jobs.sendMany(db, PROVIDER_SYNC_QUEUE, jobs.map((data) => ({ data, singletonKey: jobKey(data), ...(startAfter !== undefined && { startAfter }) })))
  }

  // When a user connects: the subscription (where per user) and a backfill of the last N days
  // in their zone.
  async function enqueueConnected (db: Db, provider: CloudProviderName, userId: string): Promise<void> {
    const to = zoneDay(deps.now(), await timeZoneOf(userId))
    const jobs: ProviderSyncJob[] = [{ provider, userId, work: { kind: 'days', from: addDays(to, 1 - deps.backfillDays), to } }]
    if (deps.providers[provider]?.subscribe !== undefined) jobs.unshift({ provider, userId, work: { kind: 'subscribe' } })
    await enqueue(db, jobs)
  }

  // Periodic pulls for notifications that never came: the last few days of every active
  // connection, as jobs (so one slow provider holds up nothing else).
  async function reconcile (): Promise<number> {
    const { rows } = await deps.pool.query<{ user_id: string, provider: CloudProviderName, time_zone: string | null }>(
      `SELECT c.user_id, c.provider, u.time_zone FROM provider_connections c JOIN users u ON u.id = c.user_id
       WHERE c.status = 'active' AND c.provider = ANY($1::text[])`, [Object.keys(deps.providers)])
    const jobs = rows.map((r) => {
      const to = zoneDay(deps.now(), r.time_zone != null && isValidTimeZone(r.time_zone) ? r.time_zone : 'UTC')
      return { provider: r.provider, userId: r.user_id, work: { kind: 'days' as const, from: addDays(to, 1 - deps.reconcileDays), to } }
    })
    await enqueue(deps.pool, jobs)
    return jobs.length
  }

  async function run (job: ProviderSyncJob): Promise<void> {
    const provider = deps.providers[job.provider]
    if (provider === undefined) return
    const { work } = job
    if (work.kind === 'deauthorized') {
      // Revoked at the provider: the tokens are useless; the data already counted stays.
      await deps.store.remove(deps.pool, job.userId, job.provider)
      return
    }
    try {
      if (work.kind === 'subscribe') {
        const connection = await deps.store.get(deps.pool, job.userId, job.provider)
        if (connection === null) return
        await deps.tokens.withToken(job.userId, job.provider, async (accessToken) => await provider.subscribe?.(accessToken, connection.externalUserId))
        return
      }
      const timeZone = await timeZoneOf(job.userId)
      const records = await deps.tokens.withToken(job.userId, job.provider, async (accessToken) => work.kind === 'records'
        ? { samples: work.samples, deletions: [] }
        : work.kind === 'days'
          ? await provider.fetchDays(work.from, work.to, { accessToken, timeZone })
          : await provider.fetchWork(work, { accessToken, timeZone }))
      await ingest(job.userId, provider, records)
      await deps.store.markSynced(deps.pool, job.userId, job.provider)
    } catch (err) {
      // Disconnected since the job was queued: nothing to do.
      if (err instanceof NotConnectedError) return
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds
      const reauthorize = (err as { reauthorize?: boolean }).reauthorize === true
      if (!reauthorize) await deps.store.markFailed(deps.pool, job.userId, job.provider, (err as Error).message, false)
      // Rate limited: come back when the provider said, not at the queue's next backoff step.
      if (retryAfter !== undefined && (err as { statusCode?: number }).statusCode === 503) {
        await enqueue(deps.pool, [job], new Date(deps.now().getTime() + retryAfter * 1000))
        return
      }
      if (reauthorize) return
      throw err
    }
  }

  return { run, reconcile, enqueue, enqueueConnected }
}

export type ProviderSync = ReturnType<typeof createProviderSync>
