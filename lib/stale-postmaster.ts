import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

// A service killed without shutting down (SIGKILL, a crash of the machine) leaves its embedded
// postmaster running, since a child outlives its parent, or at least its postmaster.pid.
// PostgreSQL refuses to start on a live lock, and on a dead one whose pid has been reused by
// another process, so the next start clears them first.

export const OWNER_FILE = 'embedded-owner.pid'

const STOP_STEPS: Array<[NodeJS.Signals, number]> = [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]]
const POLL_MS = 50
const hasProc = existsSync('/proc/self/stat')
const run = promisify(execFile)

interface Log {
  warn: (obj: object, msg: string) => void
}

// "<pid> (<name>) <state> <ppid> ..." on Linux; ps elsewhere. Undefined when the process is gone.
async function processInfo (pid: number): Promise<{ state: string, ppid: number, command: string } | undefined> {
  try {
    if (hasProc) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
      return { state, ppid: Number(ppid), command }
    }
    const { stdout } = await run('ps', ['-o', 'stat=,ppid=,command=', '-p', String(pid)])
    const [, state = '', ppid = '0', command = ''] = /^\s*(\S+)\s+(\d+)\s+(.*)$/.exec(stdout.trim()) ?? []
    return stdout.trim() === '' ? undefined : { state, ppid: Number(ppid), command }
  } catch {
    return undefined
  }
}

// A zombie has exited; only its parent's bookkeeping remains.
export async function running (pid: number): Promise<boolean> {
  const info = await processInfo(pid)
  return info !== undefined && !info.state.startsWith('Z')
}

async function gone (pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  // Not our child: there is no exit event to wait for, so poll.
  while (await running(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  return true
}

// Fast shutdown first (ends sessions, checkpoints), then immediate, then SIGKILL.
async function stopPostmaster (pid: number): Promise<void> {
  for (const [signal, timeoutMs] of STOP_STEPS) {
    try {
      process.kill(pid, signal)
    } catch {
      return
    }
    if (await gone(pid, timeoutMs)) return
  }
  throw new Error(`the stale embedded PostgreSQL (pid ${pid}) did not stop`)
}

async function readPid (file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

export async function recoverStalePostmaster (dir: string, log: Log): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid')
  const pid = await readPid(pidFile)
  if (pid === undefined) return
  const info = pid > 0 ? await processInfo(pid) : undefined
  const ours = info !== undefined && !info.state.startsWith('Z') && info.command.includes('postgres') && info.command.includes(dir)
  if (!ours) {
    log.warn({ pid, dir }, 'removing the lock file of an embedded PostgreSQL that is no longer running')
    await rm(pidFile, { force: true })
    return
  }
  // Still the child of the service that started it: that service is running, not stale.
  const owner = await readPid(path.join(dir, OWNER_FILE))
  if (owner && owner !== process.pid && info.ppid === owner && await running(owner)) {
    throw new Error(`the embedded PostgreSQL in ${dir} is in use by the service with pid ${owner}: stop it, or set another DATA_DIR`)
  }
  log.warn({ pid, dir }, 'stopping the embedded PostgreSQL left running by a service that did not shut down')
  await stopPostmaster(pid)
  await rm(pidFile, { force: true })
}
