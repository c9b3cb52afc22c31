import path from 'node:path'
import pg from 'pg'
import Postgrator from 'postgrator'
import { projectRoot } from './project-root.ts'

const migrationsDir = path.join(projectRoot, 'migrations')
// Any fixed number shared by every instance: only one of them migrates at a time.
const MIGRATION_LOCK = 727_001

export interface MigrationResult {
  applied: string[]
  version: number
}

// `dir`: another checkout's migrations (the bench's --compare seeds each side with its own schema).
export async function migrate (connectionString: string, dir = migrationsDir): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    const postgrator = new Postgrator({
      migrationPattern: path.join(dir, '*.sql'),
      driver: 'pg',
      schemaTable: 'schema_migrations',
      execQuery: async (query) => await client.query(query)
    })
    const applied = await postgrator.migrate()
    const version = Number(await postgrator.getDatabaseVersion())
    return { applied: applied.map((m) => m.filename), version }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
    await client.end()
  }
}
