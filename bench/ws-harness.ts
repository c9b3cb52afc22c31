import { WebSocket } from 'ws'

// The WebSocket side of the benchmark, run as a second process (forked by bench/run.ts and
// driven over IPC) so the sockets' client work never shares an event loop with the load
// generator. It opens the sockets, times one broadcast's arrival at every socket, and counts
// frames per socket during a burst. Sockets opened with a view keep it as the protocol asks a
// client to (schemas/realtime.ts: its top `limit`, trimmed after each update, and its own rank
// and score), so the orchestrator can check every client's view against Postgres; while a
// fan-out is timed, frames are only queued and applied after it.

type Command =
  | { cmd: 'connect', urls: string[], concurrency: number, waitFirstFrame: boolean, views?: Array<{ userId: string, limit: number }>, timeoutMs: number }
  // Without a trigger the harness only waits for the frame (another harness sends the trigger).
  | { cmd: 'fanout', trigger?: { url: string, method: string, headers: Record<string, string>, body: string }, timeoutMs: number }
  | { cmd: 'burst-start' }
  | { cmd: 'burst-stop' }
  | { cmd: 'check', top: Array<[string, number]>, ranks: Record<string, [number, number]> }
  | { cmd: 'close' }

interface Kept { score: number, reachedAt: string }

interface View {
  userId: string
  limit: number
  top: Map<string, Kept>
  me: { rank: number | null, score: number | null } | null
  // Frames received while a fan-out is timed, applied after it.
  queued: Buffer[]
}

interface Sock {
  ws: WebSocket
  lastSeq: number
  // Update or rank frames whose seq was not above the last one seen: more than one frame in a
  // tick, or out of order.
  outOfOrder: number
  updates: number
  ranks: number
  other: number
  closedCode: number | null
  arrived: number
  bytes: number
  view: View | null
}

const UPDATE = 117 // 'u' in {"type":"update"
const SNAPSHOT = 115 // 's'
const RANK = 114 // 'r' ('a' next)
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

// The server's ranking rule: score desc, reachedAt asc, userId asc.
function ranked (top: Map<string, Kept>): Array<[string, Kept]> {
  return [...top].sort(([ua, a], [ub, b]) => b.score - a.score || (a.reachedAt < b.reachedAt ? -1 : a.reachedAt > b.reachedAt ? 1 : ua < ub ? -1 : ua > ub ? 1 : 0))
}

interface FrameEntry { userId: string, score: number, reachedAt: string }
function applyToView (v: View, data: Buffer): void {
  const f = JSON.parse(data.toString('utf8')) as { type: string, entries?: FrameEntry[], removed?: string[], me?: { rank: number | null, score: number | null } | null, rank?: number | null, score?: number | null }
  if (f.type === 'snapshot') {
    v.top = new Map((f.entries ?? []).map((e) => [e.userId, { score: e.score, reachedAt: e.reachedAt }]))
    v.me = f.me ? { rank: f.me.rank, score: f.me.score } : null
  } else if (f.type === 'update') {
    for (const e of f.entries ?? []) v.top.set(e.userId, { score: e.score, reachedAt: e.reachedAt })
    for (const id of f.removed ?? []) v.top.delete(id)
    if (f.me) v.me = f.me.rank === null ? null : { rank: f.me.rank, score: f.me.score }
    if (v.top.size > v.limit) v.top = new Map(ranked(v.top).slice(0, v.limit))
  } else if (f.type === 'rank') {
    v.me = f.rank === null || f.rank === undefined ? null : { rank: f.rank, score: f.score ?? null }
  }
}

function onFrame (s: Sock, data: Buffer): void {
  const type = data[9]
  if (type === UPDATE || (type === RANK && data[10] === 97)) {
    const seq = seqOf(data)
    if (seq <= s.lastSeq) s.outOfOrder++
    s.lastSeq = Math.max(s.lastSeq, seq)
    if (type === RANK) s.ranks++
    else {
      s.updates++
      s.bytes += data.length
      if (armed && s.arrived === 0) {
        const t = now()
        s.arrived = t
        if (arrivals === 0) { firstArrival = t; sampleFrame = data.toString('utf8') }
        lastArrival = t
        arrivals++
        if (arrivals === sockets.length) onAllArrived?.()
      }
    }
  } else if (type === SNAPSHOT) {
    s.lastSeq = seqOf(data)
  } else {
    s.other++
  }
  if (s.view !== null) {
    if (armed) s.view.queued.push(data)
    else applyToView(s.view, data)
  }
}

async function open (url: string, waitFirstFrame: boolean, view: { userId: string, limit: number } | undefined, timeoutMs: number): Promise<Sock | string> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const state = view ? { ...view, top: new Map(), me: null, queued: [] } : null
    const s: Sock = { ws, lastSeq: -1, outOfOrder: 0, updates: 0, ranks: 0, other: 0, closedCode: null, arrived: 0, bytes: 0, view: state }
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
  async function worker (): Promise<void> {
    while (next < cmd.urls.length) {
      const i = next++
      const result = await open(cmd.urls[i]!, cmd.waitFirstFrame, cmd.views?.[i], cmd.timeoutMs)
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
  const response = cmd.trigger ? await fetch(cmd.trigger.url, { method: cmd.trigger.method, headers: cmd.trigger.headers, body: cmd.trigger.body }) : null
  await response?.arrayBuffer()
  const answered = now()
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, cmd.timeoutMs))])
  armed = false
  onAllArrived = null
  for (const s of sockets) {
    if (s.view === null) continue
    for (const data of s.view.queued) applyToView(s.view, data)
    s.view.queued = []
  }
  const open = sockets.filter((s) => s.ws.readyState === WebSocket.OPEN).length
  return {
    status: response?.status ?? 0,
    t0,
    // Arrival instants on the machine's clock, to combine with other harnesses' answers.
    firstAt: firstArrival || null,
    lastAt: lastArrival || null,
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
  for (const s of sockets) { s.updates = 0; s.ranks = 0; s.other = 0; s.outOfOrder = 0; s.bytes = 0 }
  return { started: now() }
}

function burstStop () {
  const updates = sockets.map((s) => s.updates)
  const frames = sockets.map((s) => s.updates + s.ranks)
  const closed: Record<string, number> = {}
  for (const s of sockets) if (s.closedCode !== null) closed[s.closedCode] = (closed[s.closedCode] ?? 0) + 1
  return {
    stopped: now(),
    sockets: sockets.length,
    updates: { total: updates.reduce((a, b) => a + b, 0), min: Math.min(...updates), max: Math.max(...updates) },
    frames: { total: frames.reduce((a, b) => a + b, 0), max: Math.max(...frames) },
    withUpdates: updates.filter((n) => n > 0).length,
    updateBytes: sockets.reduce((a, s) => a + s.bytes, 0),
    ranks: sockets.reduce((a, s) => a + s.ranks, 0),
    other: sockets.reduce((a, s) => a + s.other, 0),
    outOfOrder: sockets.reduce((a, s) => a + s.outOfOrder, 0),
    closed
  }
}

// Every client's view against the truth: the top (user, score) in ranking order and, by user,
// [rank, score]. A client's view is right when its top `limit` and its own rank and score are.
function check (cmd: Extract<Command, { cmd: 'check' }>) {
  let checked = 0
  let topWrong = 0
  let meWrong = 0
  let wrong = 0
  let example: unknown = null
  for (const s of sockets) {
    const v = s.view
    if (v === null || s.ws.readyState !== WebSocket.OPEN) continue
    checked++
    const expected = cmd.top.slice(0, v.limit)
    const seen = ranked(v.top).slice(0, v.limit).map(([userId, kept]) => [userId, kept.score])
    const mine = cmd.ranks[v.userId]
    const topOk = JSON.stringify(seen) === JSON.stringify(expected)
    const meOk = mine ? v.me?.rank === mine[0] && v.me?.score === mine[1] : v.me === null
    if (!topOk) topWrong++
    if (!meOk) meWrong++
    if (!topOk || !meOk) wrong++
    if ((!topOk || !meOk) && example === null) example = { userId: v.userId, seen: seen.slice(0, 5), expected: expected.slice(0, 5), me: v.me, truth: mine ?? null }
  }
  return { checked, converged: checked - wrong, topWrong, meWrong, example }
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
    : cmd.cmd === 'fanout'
      ? fanout(cmd)
      : cmd.cmd === 'burst-start'
        ? Promise.resolve(burstStart())
        : cmd.cmd === 'burst-stop' ? Promise.resolve(burstStop()) : cmd.cmd === 'check' ? Promise.resolve(check(cmd)) : closeAll()
  work.then((result) => process.send?.({ ok: true, result }), (err: Error) => process.send?.({ ok: false, error: err.message }))
})
process.on('disconnect', () => process.exit(0))
