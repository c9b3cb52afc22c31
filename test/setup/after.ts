// tap's `after` step: stops the servers test/setup/before.ts started for this run (their owner
// removes the run file once they are stopped).
import { running } from '../../lib/stale-postmaster.ts'
import { readRunBackends, removeRunBackends } from './run-backends.ts'

const STOP_TIMEOUT_MS = 20_000

const run = await readRunBackends()
if (run) {
  try {
    process.kill(run.pid, 'SIGTERM')
  } catch {
    // Already gone.
  }
  // Not our child: poll until it has stopped its servers and exited.
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (await running(run.pid)) {
    if (Date.now() > deadline) {
      console.error(`the test servers (pid ${run.pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s`)
      process.exitCode = 1
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await removeRunBackends()
}
