import { errors } from '../../lib/errors.ts'
import type { AccountArchive, ArchiveSection } from '../../schemas/leaving.ts'
import type { JobQueue } from '../shared/jobs.ts'
import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'

// Everything the service holds about a user, as one JSON archive (the right of access and to
// portability). Rows go out as stored, so a column added later is exported without a change
// here; only credentials are left out (push tokens, provider tokens, webhook secrets).

export const EXPORT_QUEUE = 'account-exports.build'
// Once a day, archives past their time are deleted (they hold everything about a person).
export const EXPORT_SWEEP_QUEUE = 'account-exports.sweep'

// $1 is the user's id in every query.
const SECTIONS: Record<ArchiveSection, string> = {
  participations: `SELECT p.*, c.name AS competition_name, c.metric AS competition_metric, c.status AS competition_status,
      c.starts_at AS competition_starts_at, c.ends_at AS competition_ends_at
    FROM participants p JOIN competitions c ON c.id = p.competition_id WHERE p.user_id = $1 ORDER BY p.joined_at, p.competition_id`,
  scoreEvents: 'SELECT * FROM score_events WHERE user_id = $1 ORDER BY id',
  fitnessSamples: 'SELECT * FROM fitness_samples WHERE user_id = $1 ORDER BY id',
  dailyTotals: 'SELECT * FROM daily_totals WHERE user_id = $1 ORDER BY local_day, metric, source',
  fitnessFlags: 'SELECT * FROM fitness_flags WHERE user_id = $1 ORDER BY id',
  activity: 'SELECT * FROM activity WHERE user_id = $1 ORDER BY id',
  walletAccounts: 'SELECT * FROM accounts WHERE user_id = $1 ORDER BY id',
  ledgerEntries: `SELECT e.*, t.kind AS transaction_kind, t.competition_id, t.memo, t.external_ref
    FROM ledger_entries e JOIN accounts a ON a.id = e.account_id JOIN ledger_transactions t ON t.id = e.transaction_id
    WHERE a.user_id = $1 ORDER BY e.id`,
  deposits: 'SELECT * FROM deposits WHERE user_id = $1 ORDER BY created_at, id',
  withdrawals: 'SELECT * FROM withdrawals WHERE user_id = $1 ORDER BY created_at, id',
  disputes: 'SELECT * FROM disputes WHERE user_id = $1 ORDER BY created_at, id',
  prizePayouts: 'SELECT * FROM prize_payouts WHERE user_id = $1 ORDER BY created_at, competition_id',
  payoutAccounts: 'SELECT * FROM payout_accounts WHERE user_id = $1',
  devices: `SELECT id, provider, platform, app_version, created_at, last_seen_at, right(token, 4) AS token_ends_with
    FROM push_devices WHERE user_id = $1 ORDER BY created_at, id`,
  notificationPreferences: 'SELECT * FROM notification_preferences WHERE user_id = $1 ORDER BY category, channel',
  notificationSettings: 'SELECT * FROM notification_settings WHERE user_id = $1',
  notifications: 'SELECT * FROM notifications WHERE user_id = $1 ORDER BY created_at, id',
  notificationDeliveries: `SELECT d.* FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
    WHERE n.user_id = $1 ORDER BY d.created_at, d.notification_id, d.channel`,
  connections: `SELECT user_id, provider, external_user_id, expires_at, scope, status, connected_at, refreshed_at,
      last_sync_at, last_error, last_error_at
    FROM provider_connections WHERE user_id = $1 ORDER BY provider`,
  competitionsCreated: 'SELECT * FROM competitions WHERE created_by = $1 ORDER BY created_at, id',
  invitesCreated: 'SELECT * FROM competition_invites WHERE created_by = $1 ORDER BY created_at, id',
  webhookEndpointsCreated: `SELECT id, url, event_types, description, enabled, disabled_reason, disabled_at, created_at, updated_at
    FROM webhook_endpoints WHERE created_by = $1 ORDER BY created_at, id`,
  seriesCreated: 'SELECT * FROM competition_series WHERE created_by = $1 ORDER BY created_at, id',
  seriesSubscriptions: 'SELECT * FROM competition_series_subscriptions WHERE user_id = $1 ORDER BY series_id',
  seriesAutoJoins: 'SELECT * FROM series_auto_joins WHERE user_id = $1 ORDER BY created_at, competition_id',
  events: 'SELECT id, seq, type, competition_id, payload, occurred_at FROM domain_events WHERE user_id = $1 ORDER BY seq',
  exports: 'SELECT id, status, bytes, created_at, completed_at, expires_at FROM account_exports WHERE user_id = $1 ORDER BY created_at, id'
}

// The rows an archive grows with; an export over the limit is built by a job instead.
const SIZE = `SELECT (SELECT count(*) FROM fitness_samples WHERE user_id = $1)
  + (SELECT count(*) FROM score_events WHERE user_id = $1)
  + (SELECT count(*) FROM daily_totals WHERE user_id = $1)
  + (SELECT count(*) FROM activity WHERE user_id = $1)
  + (SELECT count(*) FROM notifications WHERE user_id = $1)
  + (SELECT count(*) FROM domain_events WHERE user_id = $1)
  + (SELECT count(*) FROM ledger_entries e JOIN accounts a ON a.id = e.account_id WHERE a.user_id = $1) AS rows`

export type Archive = AccountArchive

export interface AccountExport {
  id: string
  status: 'pending' | 'ready' | 'failed'
  createdAt: string
  completedAt: string | null
  expiresAt: string
  bytes: number | null
  archive: Archive | null
}

interface ExportRow {
  id: string
  status: AccountExport['status']
  created_at: Date
  completed_at: Date | null
  expires_at: Date
  bytes: number | null
  archive: Archive | null
}

function toExport (r: ExportRow): AccountExport {
  return {
    id: r.id,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    expiresAt: r.expires_at.toISOString(),
    bytes: r.bytes,
    archive: r.archive
  }
}

export interface ExportDeps {
  pool: Db
  transact: Transact
  jobs: Pick<JobQueue, 'send'>
  // Past this many rows (see SIZE) GET answers 409 and the export is asked for as a job.
  syncMaxRows: number
  ttlSeconds: number
  now?: () => Date
}

export function createAccountExports (deps: ExportDeps) {
  const now = deps.now ?? (() => new Date())

  // One snapshot for every section, so the archive is consistent with itself.
  async function archive (userId: string): Promise<Archive> {
    return await deps.transact(async (tx: TransactionClient) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
      const { rows: [profile] } = await tx.query(`SELECT id, email, username, display_name, bio, avatar_url, time_zone, units,
        locale, phone_number, created_at, updated_at FROM users WHERE id = $1 AND deleted_at IS NULL`, [userId])
      if (profile === undefined) throw errors.NotFound('User not found')
      const sections = {} as Record<ArchiveSection, object[]>
      for (const [name, sql] of Object.entries(SECTIONS) as Array<[ArchiveSection, string]>) {
        sections[name] = (await tx.query(sql, [userId])).rows
      }
      return { format: 'account-archive/1' as const, generatedAt: now().toISOString(), userId, profile: profile as object, sections }
    })
  }

  async function exportNow (userId: string): Promise<Archive> {
    const { rows: [size] } = await deps.pool.query<{ rows: string }>(SIZE, [userId])
    if (Number(size!.rows) > deps.syncMaxRows) {
      throw errors.Conflict(`The archive holds more than ${deps.syncMaxRows} records: ask for it with POST /api/v1/me/exports and collect it when ready`)
    }
    return await archive(userId)
  }

  // A user has at most one export in the making: asking again returns it.
  async function request (userId: string): Promise<AccountExport> {
    return await deps.transact(async (tx) => {
      await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId])
      await tx.query('DELETE FROM account_exports WHERE user_id = $1 AND expires_at <= $2', [userId, now()])
      const { rows: pending } = await tx.query<ExportRow>(`SELECT id, status, created_at, completed_at, expires_at, bytes, NULL AS archive
        FROM account_exports WHERE user_id = $1 AND status = 'pending'`, [userId])
      if (pending[0] !== undefined) return toExport(pending[0])
      const expiresAt = new Date(now().getTime() + deps.ttlSeconds * 1000)
      const { rows: [created] } = await tx.query<ExportRow>(`INSERT INTO account_exports (user_id, expires_at) VALUES ($1, $2)
        RETURNING id, status, created_at, completed_at, expires_at, bytes, NULL AS archive`, [userId, expiresAt])
      await deps.jobs.send(tx, EXPORT_QUEUE, { exportId: created!.id })
      return toExport(created!)
    })
  }

  async function get (userId: string, exportId: string): Promise<AccountExport> {
    const { rows } = await deps.pool.query<ExportRow>(`SELECT id, status, created_at, completed_at, expires_at, bytes, archive
      FROM account_exports WHERE id = $1 AND user_id = $2 AND expires_at > $3`, [exportId, userId, now()])
    if (rows[0] === undefined) throw errors.NotFound('No such export (exports are kept until they expire)')
    return toExport(rows[0])
  }

  // The job: builds the archive once; a deleted account or expired export leaves nothing to do.
  async function build (exportId: string, lastAttempt: boolean): Promise<void> {
    const { rows } = await deps.pool.query<{ user_id: string }>(
      'SELECT user_id FROM account_exports WHERE id = $1 AND status = \'pending\'', [exportId])
    if (rows[0] === undefined) return
    try {
      const built = await archive(rows[0].user_id)
      const text = JSON.stringify(built)
      await deps.pool.query(`UPDATE account_exports SET status = 'ready', archive = $2, bytes = $3, completed_at = now()
        WHERE id = $1 AND status = 'pending'`, [exportId, text, Buffer.byteLength(text)])
    } catch (err) {
      if (lastAttempt || (err as { statusCode?: number }).statusCode === 404) {
        await deps.pool.query('UPDATE account_exports SET status = \'failed\', completed_at = now() WHERE id = $1 AND status = \'pending\'', [exportId])
        return
      }
      throw err
    }
  }

  async function sweepExpired (): Promise<number> {
    const { rowCount } = await deps.pool.query('DELETE FROM account_exports WHERE expires_at <= $1', [now()])
    return rowCount ?? 0
  }

  return { exportNow, request, get, build, sweepExpired }
}

export type AccountExports = ReturnType<typeof createAccountExports>
