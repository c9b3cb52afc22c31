import { WebSocket } from 'ws'

// The WebSocket side of the benchmark, run as a second process (forked by bench/run.ts and
// driven over IPC) so the sockets' client work never shares an event loop with the load
// generator. It opens the sockets, times one broadcast's arrival at every socket, and counts
// frames per socket during a burst. Per-frame work is kept to a few byte comparisons; only a
// handful of sample clients parse frames to track the full leaderboard state.

type Command =
  | { cmd: 'connect', urls: string[], concurrency: number, waitFirstFrame: boolean, samples: number, timeoutMs: number }
  | { cmd: 'fanout', trigger: { url: string, method: string, headers: Record<string, string>, body: string }, timeoutMs: number }
  | { cmd: 'burst-start' }
  | { cmd: 'burst-stop' }
  | { cmd: 'close' }

interface Sock {
  ws: WebSocket
  lastSeq: number
  gaps: number
  updates: number
  ranks: number
  other: number
  closedCode: number | null
  arrived: number
  bytes: number
  // Sample clients only: user id -> score as this client was told.
  scores: Map<string, number> | null
}

const UPDATE = 117 // 'u' in {"type":"update"
const SNAPSHOT = 115 // 's'
const sockets: Sock[] = []
let armed = false
let arrivals = 0
let firstArrival = 0
let lastArrival = 0
let sampleFrame = ''
let onAllArrived: (() => void) | null = null
let firstFrameBytes = 0

const now = () => performance.timeOrigin + performance.now()

function seqOf (data: Buffer): number {
  const head = data.toString('latin1', 0, 140)
  const at = head.indexOf('"seq":')
  return at === -1 ? -1 : Number.parseInt(head.slice(at + 6), 10)
}

interface Entry { userId: string, score: number }
function applySample (s: Sock, data: Buffer): void {
  const frame = JSON.parse(data.toString('utf8')) as { type: string, entries?: Entry[], around?: Entry[], removed?: string[] }
  if (frame.type === 'snapshot') s.scores = new Map()
  if (frame.type !== 'snapshot' && frame.type !== 'update') return
  for (const e of [...(frame.entries ?? []), ...(frame.around ?? [])]) s.scores!.set(e.userId, e.score)
  for (const id of frame.removed ?? []) s.scores!.delete(id)
}

function onFrame (s: Sock, data: Buffer): void {
  const type = data[9]
  if (type === UPDATE) {
    s.updates++
    s.bytes += data.length
    const seq = seqOf(data)
    if (s.lastSeq >= 0 && seq !== s.lastSeq + 1) s.gaps++
    s.lastSeq = seq
    if (armed && s.arrived === 0) {
      const t = now()
      s.arrived = t
      if (arrivals === 0) { firstArrival = t; sampleFrame = data.toString('utf8') }
      lastArrival = t
      arrivals++
      if (arrivals === sockets.length) onAllArrived?.()
    }
  } else if (type === SNAPSHOT) {
    s.lastSeq = seqOf(data)
  } else if (type === 114 && data[10] === 97) {
    s.ranks++
  } else {
    s.other++
  }
  if (s.scores !== null) applySample(s, data)
}

async function open (url: string, waitFirstFrame: boolean, sample: boolean, timeoutMs: number): Promise<Sock | string> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const s: Sock = { ws, lastSeq: -1, gaps: 0, updates: 0, ranks: 0, other: 0, closedCode: null, arrived: 0, bytes: 0, scores: sample ? new Map() : null }
    const timer = setTimeout(() => { ws.terminate(); resolve('timeout') }, timeoutMs)
    let settled = false
    const done = (value: Sock | string) => { if (!settled) { settled = true; clearTimeout(timer); resolve(value) } }
    ws.on('message', (data: Buffer) => {
      if (!settled) firstFrameBytes += data.length
      onFrame(s, data)
      done(s)
    })
    ws.on('open', () => { if (!waitFirstFrame) done(s) })
    ws.on('close', (code) => { s.closedCode = code; done(`closed ${code}`) })
    ws.on('error', (err) => done(`error ${err.message}`))
  })
}

async function connect (cmd: Extract<Command, { cmd: 'connect' }>) {
  const started = now()
  firstFrameBytes = 0
  const failures = new Map<string, number>()
  let next = 0
  const sampleEvery = cmd.samples > 0 ? Math.max(1, Math.floor(cmd.urls.length / cmd.samples)) : 0
  async function worker (): Promise<void> {
    while (next < cmd.urls.length) {
      const i = next++
      const result = await open(cmd.urls[i]!, cmd.waitFirstFrame, sampleEvery > 0 && i % sampleEvery === 0, cmd.timeoutMs)
      if (typeof result === 'string') failures.set(result, (failures.get(result) ?? 0) + 1)
      else sockets.push(result)
    }
  }
  await Promise.all(Array.from({ length: cmd.concurrency }, worker))
  return { opened: sockets.length, failed: Object.fromEntries(failures), ms: Math.round(now() - started), firstFrameBytes: Math.round(firstFrameBytes / Math.max(1, sockets.length)) }
}

async function fanout (cmd: Extract<Command, { cmd: 'fanout' }>) {
  for (const s of sockets) s.arrived = 0
  arrivals = 0
  firstArrival = 0
  lastArrival = 0
  armed = true
  const all = new Promise<void>((resolve) => { onAllArrived = resolve })
  const t0 = now()
  const response = await fetch(cmd.trigger.url, { method: cmd.trigger.method, headers: cmd.trigger.headers, body: cmd.trigger.body })
  await response.arrayBuffer()
  const answered = now()
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, cmd.timeoutMs))])
  armed = false
  onAllArrived = null
  const open = sockets.filter((s) => s.ws.readyState === WebSocket.OPEN).length
  return {
    status: response.status,
    t0,
    answeredMs: answered - t0,
    firstMs: firstArrival ? firstArrival - t0 : null,
    lastMs: lastArrival ? lastArrival - t0 : null,
    arrivals,
    sockets: sockets.length,
    open,
    frameBytes: Buffer.byteLength(sampleFrame),
    frame: sampleFrame
  }
}

function burstStart () {
  for (const s of sockets) { s.updates = 0; s.ranks = 0; s.other = 0; s.gaps = 0; s.bytes = 0 }
  return { started: now() }
}

function burstStop () {
  const updates = sockets.map((s) => s.updates)
  const closed: Record<string, number> = {}
  for (const s of sockets) if (s.closedCode !== null) closed[s.closedCode] = (closed[s.closedCode] ?? 0) + 1
  const seqs = new Map<number, number>()
  for (const s of sockets) seqs.set(s.lastSeq, (seqs.get(s.lastSeq) ?? 0) + 1)
  return {
    stopped: now(),
    sockets: sockets.length,
    updates: { total: updates.reduce((a, b) => a + b, 0), min: Math.min(...updates), max: Math.max(...updates) },
    updateBytes: sockets.reduce((a, s) => a + s.bytes, 0),
    ranks: sockets.reduce((a, s) => a + s.ranks, 0),
    other: sockets.reduce((a, s) => a + s.other, 0),
    gaps: sockets.reduce((a, s) => a + s.gaps, 0),
    closed,
    lastSeqs: Object.fromEntries(seqs),
    samples: sockets.filter((s) => s.scores !== null).map((s) => ({ lastSeq: s.lastSeq, scores: Object.fromEntries(s.scores!) }))
  }
}

async function closeAll () {
  const closing = sockets.map(async (s) => {
    if (s.ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { s.ws.terminate(); resolve() }, 3000)
      s.ws.once('close', () => { clearTimeout(timer); resolve() })
      s.ws.close(1000)
    })
  })
  await Promise.all(closing)
  sockets.length = 0
  return { closed: true }
}

process.on('message', (message) => {
  const cmd = message as Command
  const work = cmd.cmd === 'connect'
    ? connect(cmd)
    : cmd.cmd === 'fanout' ? fanout(cmd) : cmd.cmd === 'burst-start' ? Promise.resolve(burstStart()) : cmd.cmd === 'burst-stop' ? Promise.resolve(burstStop()) : closeAll()
  work.then((result) => process.send?.({ ok: true, result }), (err: Error) => process.send?.({ ok: false, error: err.message }))
})
process.on('disconnect', () => process.exit(0))
