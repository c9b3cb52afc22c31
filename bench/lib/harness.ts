import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The orchestrator's handle on the WebSocket harness process (bench/ws-harness.ts): one
// command at a time, answered over IPC.
export interface Harness {
  pid: number
  call: <T = Record<string, unknown>>(command: Record<string, unknown>) => Promise<T>
  stop: () => Promise<void>
}

export function startHarness (): Harness {
  const child: ChildProcess = fork(fileURLToPath(new URL('../ws-harness.ts', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--max-old-space-size=4096']
  })
  async function call<T> (command: Record<string, unknown>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`ws harness exited (${code})`))
      child.once('exit', onExit)
      child.once('message', (m) => {
        child.off('exit', onExit)
        const answer = m as { ok: boolean, result?: T, error?: string }
        if (answer.ok) resolve(answer.result as T)
        else reject(new Error(answer.error))
      })
      child.send(command)
    })
  }
  async function stop (): Promise<void> {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.disconnect()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
  return { pid: child.pid!, call, stop }
}
