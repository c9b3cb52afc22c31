import t from 'tap'
import { execFile } from 'node:child_process'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SCRIPT = path.join(ROOT, 'scripts', 'client-generate.ts')

async function check (...dirs: string[]): Promise<{ code: number, output: string }> {
  const args = [SCRIPT, '--check', ...dirs.flatMap((dir) => ['--dir', dir])]
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, timeout: 60_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

// The generator builds the app in embedded mode (no database, no Redis), so this runs
// anywhere. One run checks the checked-in client and a copy whose document is stale.
t.test('the checked-in client matches the routes; a stale document fails the check', async (t) => {
  const stale = t.testdir()
  await cp(path.join(ROOT, 'clients'), stale, { recursive: true })
  const file = path.join(stale, 'openapi.json')
  const document = JSON.parse(await readFile(file, 'utf8'))
  delete document.paths['/api/v1/me']
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`)

  const { code, output } = await check('clients', stale)
  const outOfDate = /out of date: ([^)]*)\)/.exec(output)?.[1]?.split(', ') ?? []
  t.equal(code, 1, 'the stale copy fails the check')
  t.match(output, /npm run client:generate/, 'and says how to fix it')
  t.same(outOfDate, [path.relative(ROOT, file)], 'only the stale document is reported: clients/ is up to date (otherwise run npm run client:generate)')
})
