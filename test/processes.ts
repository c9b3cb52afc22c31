// Private Redis and PostgreSQL servers on spare loopback ports, for tests that stop, kill and
// restart a dependency. The shared servers on 5432/6379 are never touched. Every start and stop
// is bounded in time, and everything started here is stopped in t.teardown (and, as a last
// resort, when the test process exits).
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../lib/free-port.ts'
import { projectRoot } from '../lib/project-root.ts'

type Test = { teardown: (fn: () => unknown) => void }

const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000

// Called on process exit for anything a crashed test left running.
const exitCleanups = new Set<() => void>()
process.once('exit', () => { for (const cleanup of exitCleanups) cleanup() })

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

export { freePort }

// Several distinct free ports (Redis Cluster nodes get their bus port given explicitly).
async function freePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

// One RESP round trip without a client library: true when the server answers +PONG.
async function redisPing (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const timer = setTimeout(() => { socket.destroy(); resolve(false) }, 500)
    socket.once('error', () => { clearTimeout(timer); resolve(false) })
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { clearTimeout(timer); socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
  })
}

async function exited (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

export interface RedisServer {
  port: number
  url: string
  // Stops the server gracefully (SIGTERM), or abruptly with kill().
  stop: () => Promise<void>
  kill: () => Promise<void>
  // Starts it again on the same port, empty (no persistence).
  start: () => Promise<void>
  running: () => boolean
}

function spawnRedis (args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr?.resume()
  return child
}

async function stopChild (child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  if (!await exited(child, STOP_TIMEOUT_MS)) {
    child.kill('SIGKILL')
    await exited(child, STOP_TIMEOUT_MS)
  }
}

// A standalone, non-persistent redis-server on a spare port.
export async function startRedisServer (t: Test, extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const cleanup = () => { if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  exitCleanups.add(cleanup)

  async function start (): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return
    child = spawnRedis(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs])
    await until(`redis-server on ${port}`, async () => await redisPing(port))
  }
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop: async () => await stopChild(child, 'SIGTERM'),
    kill: async () => await stopChild(child, 'SIGKILL'),
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null
  }
  t.teardown(async () => { await server.kill(); exitCleanups.delete(cleanup) })
  await start()
  return server
}

export interface RedisCluster {
  // host:port of every master, the value REDIS_CLUSTER_NODES takes.
  nodes: string[]
  ports: number[]
  stop: () => Promise<void>
}

// A 3-master Redis Cluster (no replicas) on spare ports, slots spread by redis-cli.
export async function startRedisCluster (t: Test, size = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'hc-redis-cluster-'))
  const ports = await freePorts(size * 2)
  const clientPorts = ports.slice(0, size)
  const busPorts = ports.slice(size)
  const children: ChildProcess[] = []
  const cleanup = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') }
  exitCleanups.add(cleanup)
  const stop = async () => {
    await Promise.all(children.map(async (c) => await stopChild(c, 'SIGKILL')))
    rmSync(dir, { recursive: true, force: true })
    exitCleanups.delete(cleanup)
  }
  t.teardown(stop)

  for (const [i, port] of clientPorts.entries()) {
    children.push(spawnRedis([
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]),
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000',
      '--dir', dir
    ]))
  }
  await Promise.all(clientPorts.map(async (port) => await until(`cluster node on ${port}`, async () => await redisPing(port))))
  const nodes = clientPorts.map((port) => `127.0.0.1:${port}`)
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], {
    timeout: START_TIMEOUT_MS,
    encoding: 'utf8'
  })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  // Every node must agree the cluster is whole before clients connect.
  await until('cluster state ok on every node', async () => clientPorts.every((port) => {
    const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { timeout: 2000, encoding: 'utf8' })
    return /cluster_state:ok/.test(info.stdout ?? '') && /cluster_slots_assigned:16384/.test(info.stdout ?? '')
  }))
  return { nodes, ports: clientPorts, stop }
}

export interface PostgresServer {
  port: number
  // Connection URL of its `postgres` database (superuser postgres, trust auth).
  url: string
  // Stops the server (fast shutdown: open sessions are ended) and starts it again.
  stop: () => Promise<void>
  start: () => Promise<void>
  running: () => boolean
}

function postgresBin (name: string): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const version of versions) {
    const path = join(root, version, 'bin', name)
    if (existsSync(path)) return path
  }
  return name
}

// PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
function asPostgres (command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
}

async function run (command: string, args: string[], timeoutMs: number): Promise<void> {
  const [cmd, argv] = asPostgres(command, args)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
    let output = ''
    child.stdout.on('data', (d) => { output += d })
    child.stderr.on('data', (d) => { output += d })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code}): ${output.slice(-2000)}`))
    })
  })
}

// A throwaway PostgreSQL cluster: initdb into a temp dir, started with pg_ctl on a spare port,
// its socket in the same temp dir. fsync is off: the data is thrown away afterwards.
// With `replicaOf`, the new server is a streaming hot standby of that one (pg_basebackup -R).
export async function startPostgresServer (t: Test, opts: { replicaOf?: PostgresServer } = {}): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hc-pg-'))
  const dataDir = join(dir, 'data')
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const port = await freePort()
  if (opts.replicaOf) {
    await run(postgresBin('pg_basebackup'), ['-h', '127.0.0.1', '-p', String(opts.replicaOf.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '--no-sync'], 60_000)
  } else {
    await run(postgresBin('initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'], 60_000)
  }
  let up = false
  const pgCtl = postgresBin('pg_ctl')
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`

  async function start (): Promise<void> {
    if (up) return
    await run(pgCtl, ['-D', dataDir, '-o', options, '-l', join(dir, 'log'), '-w', '-t', String(START_TIMEOUT_MS / 1000), 'start'], START_TIMEOUT_MS + 5000)
    up = true
  }
  async function stop (): Promise<void> {
    if (!up) return
    await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_MS / 1000), 'stop'], STOP_TIMEOUT_MS + 5000)
      .catch(async () => await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], STOP_TIMEOUT_MS))
    up = false
  }
  const cleanup = () => {
    const [cmd, argv] = asPostgres(pgCtl, ['-D', dataDir, '-m', 'immediate', 'stop'])
    spawnSync(cmd, argv, { timeout: STOP_TIMEOUT_MS, stdio: 'ignore' })
    rmSync(dir, { recursive: true, force: true })
  }
  exitCleanups.add(cleanup)
  t.teardown(async () => {
    await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
    exitCleanups.delete(cleanup)
  })
  await start()
  return { port, url: `postgres://postgres@127.0.0.1:${port}/postgres`, start, stop, running: () => up }
}

export interface ServerProcess {
  base: string
  child: ChildProcess
  // Resolves when the process has exited, with its code or signal.
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stderr: () => string
}

// The real server (node server.ts, or the built dist/server.js) on a spare port, as production
// runs it. Killed with SIGKILL in teardown if still running.
export async function startServerProcess (t: Test, env: Record<string, string>, entry = 'server.ts'): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [entry], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', (d) => { stderr += String(d) })
  const cleanup = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  exitCleanups.add(cleanup)
  t.teardown(() => { cleanup(); exitCleanups.delete(cleanup) })
  const exitedPromise = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited during start-up: ${stderr.slice(-2000)}`)
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) break
    if (Date.now() > deadline) throw new Error(`server did not answer within 30 s: ${stderr.slice(-2000)}`)
    await sleep(100)
  }
  return { base, child, exited: exitedPromise, stderr: () => stderr }
}
