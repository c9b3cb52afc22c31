import pg from 'pg'
import { competitionId } from './ids.ts'

// The data set, written with set-based SQL (generate_series) so even the large scale seeds in
// seconds. Users are numbered 1..users; competition `name` holds users 1..size.
export interface SeedPlan {
  users: number
  competitions: Array<{ name: string, metric: 'custom' | 'steps' | 'distance_m', size: number, status?: 'active' | 'scheduled' | 'final' }>
}

export function seedPlan (scale: number): SeedPlan {
  const n = (x: number) => Math.max(10, Math.round(x * scale))
  return {
    users: n(100_000),
    competitions: [
      // Read scenarios: top 50 and around=me on the largest leaderboard.
      { name: 'reads', metric: 'custom', size: n(100_000) },
      // WebSocket fan-out and burst: every participant a subscriber.
      { name: 'live', metric: 'custom', size: n(10_000) },
      // Durable score updates.
      { name: 'writes', metric: 'custom', size: n(1_000) },
      // Fitness sync: the syncing users' steps competition.
      { name: 'steps', metric: 'steps', size: n(1_000) },
      { name: 'distance', metric: 'distance_m', size: n(1_000) },
      // The long tail: small competitions, running, upcoming and finished.
      ...Array.from({ length: 20 }, (_, i) => ({
        name: `small-${i}`,
        metric: 'custom' as const,
        size: n(100),
        status: (['active', 'scheduled', 'final'] as const)[i % 3]
      }))
    ]
  }
}

export async function seed (databaseUrl: string, plan: SeedPlan): Promise<{ users: number, participants: number, ms: number }> {
  const started = Date.now()
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query('BEGIN')
    await client.query(`INSERT INTO users (id, username, display_name, time_zone, created_at)
      SELECT md5('bench-user-' || i)::uuid, 'user_' || i, 'Runner ' || i, 'UTC', now() - interval '30 days'
      FROM generate_series(1, $1::int) i`, [plan.users])
    let participants = 0
    for (const c of plan.competitions) {
      const status = c.status ?? 'active'
      const [starts, ends] = status === 'scheduled'
        ? ['now() + interval \'7 days\'', 'now() + interval \'14 days\'']
        : status === 'final' ? ['now() - interval \'14 days\'', 'now() - interval \'7 days\''] : ['now() - interval \'1 day\'', 'now() + interval \'7 days\'']
      const size = Math.min(c.size, plan.users)
      await client.query(`INSERT INTO competitions (id, name, metric, starts_at, ends_at, status, visibility, participant_count)
        VALUES ($1, $2, $3, ${starts}, ${ends}, $4, 'public', $5)`, [competitionId(c.name), `Bench ${c.name}`, c.metric, status, size])
      // Scores with many ties (the tie-break matters) and spread-out reached_at times.
      await client.query(`INSERT INTO participants (competition_id, user_id, joined_at, score, reached_at, score_version)
        SELECT $1, md5('bench-user-' || i)::uuid, now() - interval '2 days',
          CASE WHEN $3 = 'custom' THEN floor(random() * 20000)::bigint ELSE 0 END,
          now() - random() * interval '1 day', 1
        FROM generate_series(1, $2::int) i`, [competitionId(c.name), size, c.metric])
      participants += size
    }
    await client.query('COMMIT')
    // As autovacuum leaves a settled database: statistics, and hint bits and the visibility map
    // set, so the first reader of the bulk-loaded rows does not pay for writing them.
    await client.query('VACUUM (ANALYZE)')
    return { users: plan.users, participants, ms: Date.now() - started }
  } finally {
    await client.end()
  }
}
