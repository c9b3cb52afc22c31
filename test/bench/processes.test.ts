import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { startCommand, startParts } from '../../bench/lib/processes.ts'

// The bench starts the service exactly as `npm start` does: its environment assignments and
// node's arguments, read from package.json.
test('the start command splits into its environment and node arguments', async (t) => {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  t.equal(startCommand(), scripts.start)
  const { env, args } = startParts()
  const assignments = scripts.start.split(/\s+/).filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w))
  t.same(Object.entries(env).map(([name, value]) => `${name}=${value}`), assignments, 'every assignment before node, none lost')
  t.equal(args.at(-1), 'dist/server.js', 'the compiled server is what runs')
  t.notOk(args.some((a) => /^[A-Z_][A-Z0-9_]*=/.test(a)), 'no assignment is passed to node as an argument')
  t.ok(args.every((a) => a !== 'node'))
})
