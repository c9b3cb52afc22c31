import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'tap'
import { projectRoot } from '../../lib/project-root.ts'

// No benchmark runs inside the test suite: the suite's files are under test/, and none of
// them imports a load generator or calls what drives one (a curve, the comparison, a
// harness). The bench's pure helpers (medians, ratios, reports, size lists) may be tested.
const DRIVERS = /\b(autocannon|load|compare|startHarness|\w+Curve|fitnessSync|scoreUpdates|leaderboardTop|leaderboardAround|bareHello|profile)\b/

function testFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return testFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

test('the suite runs only test/ and imports nothing from the bench that generates load', async (t) => {
  const tap = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { tap: { include: string[] } }).tap
  t.ok(tap.include.every((glob) => glob.startsWith('test/')), `tap includes only test/ (${tap.include.join(', ')})`)

  const offending: string[] = []
  for (const file of testFiles(join(projectRoot, 'test'))) {
    const source = readFileSync(file, 'utf8')
    if (/from ['"]autocannon['"]/.test(source)) offending.push(`${relative(projectRoot, file)}: autocannon`)
    // Value imports from the bench (type-only imports bring no code).
    for (const m of source.matchAll(/^import (?!type )\{([^}]*)\} from ['"][./]*bench\/[^'"]+['"]/gm)) {
      for (const name of m[1]!.split(',').map((n) => n.trim().replace(/^type /, '')).filter(Boolean)) {
        if (DRIVERS.test(name)) offending.push(`${relative(projectRoot, file)}: ${name}`)
      }
    }
  }
  t.same(offending, [], 'no test imports a load generator or a bench driver')
})
