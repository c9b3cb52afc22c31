import pg from 'pg'
import { cpuMsOf } from './processes.ts'
import { competitionId } from './ids.ts'
import { profile, type Target } from './scenarios-http.ts'
import type { LoadResult } from './http.ts'
import type { FakeFcm } from '../../test/fakes/fcm.ts'

// A large competition's results going out: every participant of a competition with a phone
// registered, the competition made final (its event written as the lifecycle writes it), and
// the final-results push measured end to end through the outbox, the notifications consumer and
// batched send jobs to a local FCM fake, while profile reads load the API. Measured: the drain
// (first event to last push), pushes per second, service CPU per thousand, and the API's
// latency before and during the drain.

// The service's FCM settings pointing at the local fake.
export function fcmServiceEnv (fcm: FakeFcm): Record<string, string> {
  return {
    FCM_PROJECT_ID: fcm.projectId,
    FCM_CLIENT_EMAIL: fcm.clientEmail,
    FCM_PRIVATE_KEY: fcm.privateKey,
    FCM_API_URL: fcm.url,
    FCM_TOKEN_URL: fcm.tokenUrl
  }
}

export interface NotifyResult {
  participants: number
  delivered: number
  duplicates: number
  drainMs: number
  pushesPerSecond: number
  serviceCpuMsPerThousand: number
  fcmRequests: number
  apiBefore: LoadResult
  apiDuring: LoadResult
}

export async function competitionEndNotifies (t: Target, fcm: FakeFcm, databaseUrl: string, opts: { participants: number, users: number, timeoutMs?: number }): Promise<NotifyResult> {
  const id = competitionId('notify')
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    await db.query(`INSERT INTO competitions (id, name, metric, starts_at, ends_at, status, created_by)
      VALUES ($1, 'Results bench', 'steps', now() - interval '8 days', now() - interval '1 day', 'grace', NULL)`, [id])
    // Final ranks in the same statement: an UPDATE joined to a window over rows just inserted
    // (no statistics yet) can be planned as a nested loop over both.
    await db.query(`INSERT INTO participants (competition_id, user_id, score, final_rank)
      SELECT $1, id, score, rank() OVER (ORDER BY score DESC)
      FROM (SELECT id, (random() * 200000)::bigint AS score FROM users ORDER BY id LIMIT $2) u`, [id, opts.participants])
    await db.query('UPDATE competitions SET participant_count = $2 WHERE id = $1', [id, opts.participants])
    await db.query(`INSERT INTO push_devices (user_id, provider, token, platform, app_version)
      SELECT user_id, 'fcm', 'bench-' || user_id, 'android', '3.1.0' FROM participants WHERE competition_id = $1`, [id])

    const reads = { ...t, settings: { ...t.settings, warmupSeconds: 0 } }
    const apiBefore = await profile(reads, opts.users)
    const sentBefore = fcm.sent.length
    const requestsBefore = fcm.sendRequests
    const cpuBefore = cpuMsOf(t.pid)
    const started = performance.now()
    await db.query(`WITH final AS (UPDATE competitions SET status = 'final', status_changed_at = now() WHERE id = $1 RETURNING id)
      INSERT INTO domain_events (type, competition_id, payload)
      SELECT 'competition.final', id, jsonb_build_object('competitionId', id, 'from', 'grace', 'to', 'final', 'at', now()) FROM final`, [id])
    // Reads over the first 30 s of the drain: the inbox rows are written then, and sends start.
    const during = profile({ ...reads, settings: { ...reads.settings, seconds: 30 } }, opts.users)
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000)
    let last = started
    while (fcm.sent.length - sentBefore < opts.participants && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      last = performance.now()
    }
    const cpuMs = cpuMsOf(t.pid) - cpuBefore
    const apiDuring = await during
    const pushes = fcm.sent.slice(sentBefore).filter((m) => m.data.template === 'final')
    const delivered = new Set(pushes.map((m) => m.token)).size
    const drainMs = last - started
    return {
      participants: opts.participants,
      delivered,
      duplicates: pushes.length - delivered,
      drainMs: Math.round(drainMs),
      pushesPerSecond: Math.round(delivered / (drainMs / 1000)),
      serviceCpuMsPerThousand: Math.round(1000 * cpuMs / Math.max(1, delivered)),
      fcmRequests: fcm.sendRequests - requestsBefore,
      apiBefore,
      apiDuring
    }
  } finally {
    await db.end()
  }
}
