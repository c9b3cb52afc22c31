import { test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { projectRoot } from '../../lib/project-root.ts'
import { runFile } from './run-backends.ts'

// tap's `before` step as `npm test` runs it, in an environment of our choosing.
async function runBefore (env: Record<string, string>): Promise<{ code: number | null, stderr: string, ms: number }> {
  const started = Date.now()
  const child = spawn(process.execPath, ['test/setup/before.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += String(d) })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stderr, ms: Date.now() - started }
}

test('with no Redis to use or start, the run stops at once with one message saying what to install or set', async (t) => {
  // No redis-server on PATH, no container runtime settings in HOME, no TEST_REDIS_URL.
  const empty = await mkdtemp(path.join(tmpdir(), 'hc-no-redis-'))
  t.teardown(async () => await rm(empty, { recursive: true, force: true }))
  const { code, stderr, ms } = await runBefore({ PATH: empty, HOME: empty, TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' })
  t.equal(code, 1)
  t.ok(ms < 10_000, `stopped after ${ms} ms`)
  const lines = stderr.trim().split('\n')
  t.equal(lines.length, 1, 'one message')
  t.match(lines[0], /^The tests need Redis\. Install redis-server .* set TEST_REDIS_URL \(e\.g\. redis:\/\/127\.0\.0\.1:6379\), or provide a container runtime/)
})

test('with both test URLs set there is nothing to start', async (t) => {
  const { code, stderr } = await runBefore({ PATH: process.env.PATH ?? '', TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', TEST_REDIS_URL: 'redis://127.0.0.1:6379' })
  t.equal(code, 0)
  t.equal(stderr, '')
  t.notOk(existsSync(runFile(process.pid)), 'no servers of its own')
})
