// Applies pending migrations to DATABASE_URL (or the embedded database): npm run migrate
import path from 'node:path'
import { loadConfig } from '../plugins/config.ts'
import { migrate } from '../lib/migrate.ts'
import { startEmbeddedPostgres } from '../lib/embedded-postgres.ts'

const config = loadConfig()
const embedded = config.DATABASE_URL === '' ? await startEmbeddedPostgres({ dir: path.join(config.DATA_DIR, 'postgres'), log: { warn: (obj, msg) => console.warn(msg, obj), debug: () => {} } }) : undefined
try {
  const { applied, version } = await migrate(config.DATABASE_URL || embedded!.connectionString)
  console.log(applied.length > 0 ? `applied ${applied.join(', ')}; schema version ${version}` : `schema is up to date (version ${version})`)
} finally {
  await embedded?.stop()
}
