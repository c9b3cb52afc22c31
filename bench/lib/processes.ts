import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../lib/free-port.ts'
import { projectRoot } from '../../lib/project-root.ts'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

export { freePort }

// Resident memory of a process in bytes, from /proc (Linux).
export function rssOf (pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) * 1024 : 0
}

// User plus system CPU time of a process in milliseconds (clock ticks of 10 ms).
export function cpuMsOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export interface Usage { maxRss: number, endRss: number, cpuPercent: number, cpuMs: number }

// Samples a process's memory while a scenario runs, and its CPU use over the whole scenario
// (100 % = one core busy).
export function sampleUsage (pid: number, everyMs = 250): { stop: () => Usage } {
  const startedAt = Date.now()
  const startCpu = cpuMsOf(pid)
  let maxRss = rssOf(pid)
  const timer = setInterval(() => { maxRss = Math.max(maxRss, rssOf(pid)) }, everyMs)
  return {
    stop () {
      clearInterval(timer)
      const endRss = rssOf(pid)
      const cpu = cpuMsOf(pid) - startCpu
      return { maxRss: Math.max(maxRss, endRss), endRss, cpuPercent: Math.round(100 * cpu / Math.max(1, Date.now() - startedAt)), cpuMs: cpu }
    }
  }
}

export interface Child {
  child: ChildProcess
  pid: number
  port: number
  output: () => string
  stop: () => Promise<void>
}

async function stopChild (child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
}

// A baseline server script (bench/baselines/*) forked with an IPC channel; it reports its port.
export async function startBaseline (script: string, args: string[] = []): Promise<Child> {
  const child = fork(fileURLToPath(new URL(`../baselines/${script}`, import.meta.url)), ['0', ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  let output = ''
  child.stderr?.on('data', (d) => { output = (output + String(d)).slice(-4000) })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}): ${output}`)))
  })
  return { child, pid: child.pid!, port, output: () => output, stop: async () => await stopChild(child) }
}

// The command of `npm start`, read from package.json so the bench runs (and reports) what it runs.
// `root`: another checkout of the project (bench --compare).
export function startCommand (root = projectRoot): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
}

// What `npm start` does first (its prestart script): compile the sources into dist/.
export function buildService (root = projectRoot): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
}

// The start command as environment assignments (NAME=value before node) and node's arguments.
export function startParts (root = projectRoot): { env: Record<string, string>, args: string[] } {
  const start = startCommand(root)
  const words = start.trim().split(/\s+/)
  const env: Record<string, string> = {}
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) {
    const [name, ...value] = words.shift()!.split('=')
    env[name!] = value.join('=')
  }
  const [node, ...args] = words
  if (node !== 'node') throw new Error(`npm start does not run node: ${start}`)
  return { env, args }
}

// The service as production runs it (`npm start`), on a spare port, with the given
// environment. Optional V8 CPU profile written on exit.
export async function startService (env: Record<string, string>, opts: { cpuProfileDir?: string, root?: string } = {}): Promise<Child> {
  const port = await freePort()
  const flags = opts.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfileDir] : []
  const root = opts.root ?? projectRoot
  const start = startParts(root)
  const child = spawn(process.execPath, [...flags, ...start.args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...start.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (d: Buffer) => { output = (output + String(d)).slice(-8000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited during start-up: ${output}`)
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) break
    if (Date.now() > deadline) throw new Error(`service did not answer within 60 s: ${output}`)
    await sleep(100)
  }
  return { child, pid: child.pid!, port, output: () => output, stop: async () => await stopChild(child) }
}
