import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

// The servers test/setup/before.ts started for one `npm test` run, found by the test files and
// test/setup/after.ts through a file named after the tap runner that spawns them all.
export interface RunBackends {
  // The process that owns the servers (test/setup/backends-process.ts); SIGTERM stops them.
  pid: number
  postgresUrl?: string
  redisUrl?: string
}

export function runFile (runnerPid = process.ppid): string {
  return path.join(tmpdir(), `hc-test-backends-${runnerPid}.json`)
}

export async function readRunBackends (): Promise<RunBackends | undefined> {
  try {
    return JSON.parse(await readFile(runFile(), 'utf8'))
  } catch {
    return undefined
  }
}

export async function writeRunBackends (backends: RunBackends): Promise<void> {
  await writeFile(runFile(), JSON.stringify(backends), { mode: 0o600 })
}

export async function removeRunBackends (runnerPid = process.ppid): Promise<void> {
  await rm(runFile(runnerPid), { force: true })
}
