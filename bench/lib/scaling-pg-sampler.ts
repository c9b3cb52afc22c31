import pg from 'pg'

// A sampling profile of Postgres for one database: every `everyMs` the statements its
// backends are running (pg_stat_activity) are counted under the current label, so the
// statements where a workload's time goes in Postgres show up as they do in a CPU profile.
export interface PgSampler {
  label: string
  stop: () => Promise<Map<string, Map<string, number>>>
}

// A statement's name: its first words, comments and spacing removed.
function statementName (query: string): string {
  return query.replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 90)
}

export async function startPgSampler (databaseUrl: string, database: string, everyMs = 20): Promise<PgSampler> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const counts = new Map<string, Map<string, number>>()
  const state = { running: true }
  const sampler: PgSampler = { label: '', stop }
  const loop = (async () => {
    while (state.running) {
      const { rows } = await db.query<{ query: string }>(`SELECT query FROM pg_stat_activity
        WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`, [database])
      const byStatement = counts.get(sampler.label) ?? new Map<string, number>()
      counts.set(sampler.label, byStatement)
      for (const r of rows) byStatement.set(statementName(r.query), (byStatement.get(statementName(r.query)) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  async function stop (): Promise<Map<string, Map<string, number>>> {
    state.running = false
    await loop
    await db.end()
    return counts
  }
  return sampler
}

// The top statements of one label as a markdown table, with their share of the samples.
export function samplerTable (counts: Map<string, number> | undefined, everyMs: number, top = 6): string {
  const rows = [...(counts ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  const total = [...(counts?.values() ?? [])].reduce((s, n) => s + n, 0)
  return ['| samples | about | statement (start) |', '|---|---|---|',
    ...rows.map(([q, n]) => `| ${n} (${Math.round(100 * n / Math.max(1, total))} %) | ${((n * everyMs) / 1000).toFixed(1)} s | \`${q.replace(/\|/g, '\\|')}\` |`)].join('\n')
}
