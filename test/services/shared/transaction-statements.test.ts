import { test } from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { projectRoot } from '../../../lib/project-root.ts'

// Transactions are begun, committed and rolled back in one place: services/shared/transactions.ts
// (withTransaction, whose folded mode is the score batch's fast path). Any other BEGIN, COMMIT
// or ROLLBACK sent as SQL is a second way of running a transaction. lib/migrate.ts needs no
// exception: Postgrator runs each migration's transaction itself.

const SOURCE_FOLDERS = ['services', 'wiring', 'plugins', 'routes', 'lib', 'scripts']
const ALLOWED = new Set(['services/shared/transactions.ts'])

// A transaction-control statement in SQL text: at the start of a string, or after a `;`.
const STATEMENT = /(['"`]|;)\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|SAVEPOINT|RELEASE\s+SAVEPOINT)\b/i

// Code only: comments may name the statements.
function withoutComments (source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').map((line) => line.replace(/^\s*\/\/.*$/, '')).join('\n')
}

function offences (file: string, source: string): string[] {
  return withoutComments(source).split('\n').flatMap((line, i) => STATEMENT.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])
}

async function sourceFiles (folder: string): Promise<string[]> {
  const entries = await readdir(path.join(projectRoot, folder), { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile() && /\.(ts|js|mjs|cjs)$/.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => path.relative(projectRoot, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
}

test('the scan finds transaction statements in SQL text and ignores comments and property names', async (t) => {
  for (const found of ["await client.query('BEGIN')", 'query("commit")', 'query(`ROLLBACK`)', "multi(tx, ['BEGIN;\\nSELECT 1'])", "'SELECT 1; COMMIT'", "'START TRANSACTION ISOLATION LEVEL SERIALIZABLE'"]) {
    t.equal(offences('x.ts', found).length, 1, found)
  }
  for (const ignored of ['// BEGIN goes with the reads', ' * COMMIT with the writes', '[folded.begin, sql]', "'BEGINNER'", "log('committed')"]) {
    t.same(offences('x.ts', ignored), [], ignored)
  }
})

test('no BEGIN, COMMIT or ROLLBACK outside the transaction helper', async (t) => {
  const files = (await Promise.all(SOURCE_FOLDERS.map(sourceFiles))).flat()
  t.ok(files.length > 50, `scanned ${files.length} files`)
  t.ok(files.includes('services/leaderboard/store.ts'), 'the score batch is among them')
  const found: string[] = []
  for (const file of files) {
    if (ALLOWED.has(file)) continue
    found.push(...offences(file, await readFile(path.join(projectRoot, file), 'utf8')))
  }
  t.same(found, [], 'open transactions with withTransaction from services/shared/transactions.ts')
})
