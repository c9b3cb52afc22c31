import { test } from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { bearer, createDataDir, TEST_JWT_SECRET } from '../helper.ts'
import { startServerProcess, type ServerProcess } from '../processes.ts'
import { projectRoot } from '../../lib/project-root.ts'
import { recoverStalePostmaster, running } from '../../lib/stale-postmaster.ts'

// The real server in embedded mode (no DATABASE_URL, no REDIS_URL), as `npm start` runs it, on a
// data folder of the test's own, restarted and killed the way a trial user's machine would.

const quiet = { warn: () => {}, debug: () => {} }

function embeddedEnv (dataDir: string): Record<string, string> {
  return { DATA_DIR: dataDir, JWT_SECRET: TEST_JWT_SECRET, LIFECYCLE_JOBS: 'false', MAX_EVENT_LOOP_DELAY_MS: '0' }
}

async function postmasterPid (dataDir: string): Promise<number> {
  return Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0])
}

async function ready (server: ServerProcess): Promise<unknown> {
  const res = await fetch(`${server.base}/health/ready`)
  return { status: res.status, body: await res.json() }
}

async function profile (server: ServerProcess, userId: string, body?: object): Promise<{ status: number, displayName?: string }> {
  const res = await fetch(`${server.base}/api/v1/users/${userId}/profile`, {
    method: body ? 'PUT' : 'GET',
    headers: { ...bearer({ sub: userId }), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined
  })
  return { status: res.status, displayName: ((await res.json()) as { displayName?: string }).displayName }
}

async function killed (server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL')
  await server.exited
}

// A process that is not our child has no exit event to wait for: poll.
async function gone (pid: number): Promise<void> {
  while (await running(pid)) await new Promise((resolve) => setTimeout(resolve, 50))
}

async function setUp (t: Parameters<typeof createDataDir>[0]): Promise<{ dataDir: string, pidFile: string }> {
  const dataDir = await createDataDir(t)
  // Whatever a failed assertion leaves running is stopped before the folder is removed.
  t.teardown(async () => await recoverStalePostmaster(path.join(dataDir, 'postgres'), quiet))
  return { dataDir, pidFile: path.join(dataDir, 'postgres', 'postmaster.pid') }
}

test('data survives a restart, and the PostgreSQL a killed service left running is stopped by the next start', async (t) => {
  const { dataDir, pidFile } = await setUp(t)
  const userId = randomUUID()
  const first = await startServerProcess(t, embeddedEnv(dataDir))
  t.match(await ready(first), { status: 200, body: { status: 'ok', mode: 'embedded', checks: { postgres: { ok: true, mode: 'embedded' } } } })
  t.same(await profile(first, userId, { displayName: 'Ada' }), { status: 200, displayName: 'Ada' })

  const stale = await postmasterPid(dataDir)
  await killed(first)
  t.ok(await running(stale), 'kill -9 of the service leaves its PostgreSQL running')

  const second = await startServerProcess(t, embeddedEnv(dataDir))
  t.notOk(await running(stale), 'the next start stopped the stale PostgreSQL')
  t.match(await ready(second), { status: 200, body: { status: 'ok' } })
  t.same(await profile(second, userId), { status: 200, displayName: 'Ada' }, 'the data survived')
  const current = await postmasterPid(dataDir)
  t.not(current, stale)

  second.child.kill('SIGTERM')
  t.same(await second.exited, { code: 0, signal: null }, 'a graceful shutdown')
  t.notOk(await running(current), 'stops its PostgreSQL')
  t.notOk(existsSync(pidFile), 'and leaves no lock file')
})

test('a lock file whose pid now belongs to another process does not stop the next start', async (t) => {
  const { dataDir, pidFile } = await setUp(t)
  const userId = randomUUID()
  const first = await startServerProcess(t, embeddedEnv(dataDir))
  t.same(await profile(first, userId, { displayName: 'Grace' }), { status: 200, displayName: 'Grace' })
  const postmaster = await postmasterPid(dataDir)
  await killed(first)
  process.kill(postmaster, 'SIGKILL')
  await gone(postmaster)
  // As after a reboot: the recorded pid now belongs to an unrelated live process of the same
  // user as the server (PostgreSQL itself sees through its own pid, its parent's and its
  // grandparent's, and through processes of other users).
  const user = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {}
  const unrelated = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore', ...user })
  t.teardown(() => { unrelated.kill('SIGKILL') })
  const lock = await readFile(pidFile, 'utf8')
  await writeFile(pidFile, lock.replace(/^\d+/, String(unrelated.pid)))

  const next = await startServerProcess(t, embeddedEnv(dataDir))
  t.match(await ready(next), { status: 200, body: { status: 'ok' } })
  t.same(await profile(next, userId), { status: 200, displayName: 'Grace' }, 'the data survived the crash')
  next.child.kill('SIGTERM')
  t.same(await next.exited, { code: 0, signal: null })
})

test('a second service on the data folder of a running one stops instead of taking its database', async (t) => {
  const { dataDir } = await setUp(t)
  const first = await startServerProcess(t, embeddedEnv(dataDir))
  const second = spawn(process.execPath, ['server.ts'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...embeddedEnv(dataDir) },
    stdio: ['ignore', 'pipe', 'ignore']
  })
  let log = ''
  second.stdout.on('data', (d) => { log += String(d) })
  t.equal(await new Promise((resolve) => second.once('close', resolve)), 1, 'the second one stops')
  t.match(log, new RegExp(`in use by the service with pid ${first.child.pid}: stop it, or set another DATA_DIR`), 'saying why')
  t.match(await ready(first), { status: 200, body: { status: 'ok' } }, 'the first one is untouched')
  first.child.kill('SIGTERM')
  t.same(await first.exited, { code: 0, signal: null })
})
