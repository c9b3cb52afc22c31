import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from './free-port.ts'

export interface EmbeddedPostgres {
  connectionString: string
  stop: () => Promise<void>
}

// PGlite behind the Postgres wire protocol, so the same pg pool and SQL run on it.
// It serialises transactions: callers always query through the transaction's own client.
export async function startEmbeddedPostgres (dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket')
  ])
  const dir = path.resolve(dataDir, 'pglite')
  await mkdir(dir, { recursive: true })
  const db = await PGlite.create(dir)
  const port = await freePort()
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections })
  await server.start()
  return {
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    async stop () {
      await server.stop()
      await db.close()
    }
  }
}
