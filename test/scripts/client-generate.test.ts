import t from 'tap'
import { execFile } from 'node:child_process'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SCRIPT = path.join(ROOT, 'scripts', 'client-generate.ts')

async function check (dir?: string): Promise<{ code: number, output: string }> {
  const args = [SCRIPT, '--check', ...(dir ? ['--dir', dir] : [])]
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, timeout: 60_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

// The generator builds the app in embedded mode (no database, no Redis), so this runs
// anywhere and proves the checked-in client matches the routes of this commit.
t.test('clients/openapi.json and clients/generated/api.ts match the current routes', async (t) => {
  const { code, output } = await check()
  if (code !== 0) t.comment(output)
  t.equal(code, 0, 'the checked-in document and client are up to date (otherwise: npm run client:generate)')
})

t.test('a document that no longer matches the routes fails the check with the fix to run', async (t) => {
  const dir = t.testdir()
  await cp(path.join(ROOT, 'clients'), dir, { recursive: true })
  const file = path.join(dir, 'openapi.json')
  const document = JSON.parse(await readFile(file, 'utf8'))
  delete document.paths['/api/v1/me']
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`)

  const { code, output } = await check(dir)
  t.equal(code, 1)
  t.match(output, /openapi\.json/)
  t.match(output, /npm run client:generate/)
})
