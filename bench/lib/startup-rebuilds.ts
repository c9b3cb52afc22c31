// Rebuilds the service has finished (leaderboard_rebuilds_total over its outcomes).
async function rebuildsDone (base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  let done = 0
  for (const m of text.matchAll(/^leaderboard_rebuilds_total\{outcome="(?:changed|unchanged)"\} (\d+)/gm)) done += Number(m[1])
  return done
}

// A service rebuilds every running competition when it starts (wiring/leaderboard.ts). Nothing
// is measured until that is over: a timed rebuild would otherwise wait for it and run again,
// and the reads and writes would share the machine with it.
export async function startupRebuilds (base: string, competitions: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (await rebuildsDone(base) < competitions) {
    if (Date.now() > deadline) throw new Error(`the start-up rebuild of ${competitions} competitions did not finish in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
