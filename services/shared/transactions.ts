import type pg from 'pg'

// The one place that begins, commits and rolls back Postgres transactions. The caller that
// owns a unit of work opens it here and passes the client down; everything below only queries.

// Anything that runs a query: the pool for work outside a transaction, or a transaction's client.
export type Db = Pick<pg.ClientBase, 'query'>

// The client a unit of work runs on. Queries only: the helper owns the transaction and release.
export type TransactionClient = Db

// Where transactions get their clients.
export type TransactionPool = Pick<pg.Pool, 'connect'>

// Runs a unit of work in one transaction (what services take as a dependency).
export type Transact = <T>(fn: (tx: TransactionClient) => Promise<T>) => Promise<T>

// Statement text a folded unit of work sends itself: `begin` first in its first round trip,
// `commit` last in its last.
export interface FoldedStatements {
  readonly begin: string
  readonly commit: string
}

const FOLDED: FoldedStatements = Object.freeze({ begin: 'BEGIN', commit: 'COMMIT' })

// BEGIN, the work, COMMIT; on any error ROLLBACK and rethrow. The client always goes back to
// the pool, except one whose ROLLBACK failed: its connection state is unknown, so it is
// destroyed rather than reused.
//
// The one documented fast path, `{ folded: true }`: the helper sends no BEGIN or COMMIT of its
// own but hands the callback their text, to go in the same multi-statement round trips as the
// work (the leaderboard's score batch: BEGIN with its reads, COMMIT with its writes), so the
// transaction costs no extra round trip. ROLLBACK and release stay here. A folded callback
// that sends nothing opens no transaction at all.
export async function withTransaction<T> (pool: TransactionPool, fn: (tx: TransactionClient) => Promise<T>): Promise<T>
export async function withTransaction<T> (pool: TransactionPool, fn: (tx: TransactionClient, folded: FoldedStatements) => Promise<T>, options: { folded: true }): Promise<T>
export async function withTransaction<T> (pool: TransactionPool, fn: (tx: TransactionClient, folded: FoldedStatements) => Promise<T>, options: { folded?: boolean } = {}): Promise<T> {
  const folded = options.folded === true
  const client = await pool.connect()
  let broken = false
  // A connection lost while the client is checked out fails the query in flight, and pg also
  // emits 'error' on the client, which the pool only listens for while it is idle: unheard,
  // that event would end the process. The client is then destroyed, not reused.
  const onLost = () => { broken = true }
  client.on('error', onLost)
  try {
    if (!folded) await client.query('BEGIN')
    const result = await fn(client, FOLDED)
    if (!folded) await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { broken = true })
    throw err
  } finally {
    client.off('error', onLost)
    client.release(broken)
  }
}

// A `transact(fn)` bound to a pool, for services that take one as a dependency.
export function createTransactor (pool: TransactionPool): Transact {
  return async (fn) => await withTransaction(pool, fn)
}
