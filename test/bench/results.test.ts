import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../lib/project-root.ts'

// The committed report of `npm run bench` (no benchmark runs here): every scenario of the
// benchmark issue filled in, measured against a baseline of the same run, and marked met or
// not, with the profiles and what was tried below the table.
const SCENARIOS = [
  /^bare Fastify hello-world \(baseline\)/,
  /^GET leaderboard top 50/,
  /^GET leaderboard around=me/,
  /^GET profile/,
  /^POST score update/,
  /^POST fitness sync, 100-sample batches/,
  /^WS fan-out, 10,000 subscribers/,
  /^WS burst, 1,000 updates\/s offered/,
  /^memory: idle/,
  /^memory: 10,000 live-feed sockets/
]

test('bench/RESULTS.md has every scenario, its baseline and whether its target is met', async (t) => {
  const report = readFileSync(join(projectRoot, 'bench', 'RESULTS.md'), 'utf8')
  const rows = report.split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| scenario') && !line.startsWith('|---'))
    .map((line) => line.slice(2, -2).split(' | '))
    .filter((cells) => cells.length === 10)
  for (const pattern of SCENARIOS) {
    const row = rows.find((cells) => pattern.test(cells[0]!))
    t.ok(row, `a row for ${pattern.source}`)
    if (!row) continue
    const [scenario, result, , , , , baseline, ratio, target, met] = row
    t.match(result, /\d/, `${scenario}: a measured result`)
    t.match(met, /^(\*\*met\*\*|\*\*not met\*\*|n\/a)$/, `${scenario}: met or not`)
    if (!scenario!.startsWith('bare') && !scenario!.startsWith('memory: idle') && !scenario!.startsWith('POST fitness')) {
      t.match(baseline, /\d/, `${scenario}: its baseline from the same run`)
      t.match(ratio, /\d+\.\d\d x/, `${scenario}: a ratio to the baseline`)
      // An HTTP row's ratio is its rate over the mean of the hello-world readings around it.
      const rates = /^([\d,]+) req\/s/.exec(result!)
      const hello = /^([\d,]+) req\/s \(before ([\d,]+), after ([\d,]+)\)$/.exec(baseline!)
      if (rates && hello) {
        const [mean, before, after] = hello.slice(1).map((n) => Number(n.replaceAll(',', '')))
        t.ok(Math.abs(mean! - (before! + after!) / 2) <= 1, `${scenario}: its baseline is the mean of the readings before and after it`)
        t.ok(Math.abs(Number(rates[1]!.replaceAll(',', '')) / mean! - parseFloat(ratio!)) <= 0.006, `${scenario}: ratio = rate / baseline`)
      } else if (scenario!.startsWith('GET') || scenario!.startsWith('POST')) {
        t.fail(`${scenario}: a rate and the hello-world readings before and after it`)
      }
    }
    if (!scenario!.startsWith('bare')) t.not(target, '', `${scenario}: its target`)
  }
  t.match(report, /^## Profiles and what was tried$/m)
  t.match(report, /^Produced by `npm run bench/m)
})
