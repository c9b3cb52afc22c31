// Live leaderboard page: connects to /ws/leaderboard/:competitionId, renders the top of the
// board and moves rows as scores change. No build step: a plain module the service serves.
//
// The token comes from, in order: a message from the embedding page
// (`iframe.contentWindow.postMessage({ type: 'hc.live.token', token }, origin)`), a global
// `window.HC_LIVE_TOKEN` set by a script loaded before this one, or `?token=` in the page URL
// (development). The page tells its parent `{ type: 'hc.live.ready' }` when it listens and
// `{ type: 'hc.live.token-expired' }` when the server refuses the token.

const TOP_DEFAULT = 10
const TOP_MAX = 100
const BACKOFF_BASE_MS = 500
const BACKOFF_MAX_MS = 30_000
const HIGHLIGHT_MS = 2500
// Close codes after which retrying the same token cannot help.
const CLOSE_UNAUTHORIZED = new Set([4401])
const CLOSE_PERMANENT = new Set([4400, 4403, 4404])

const params = new URLSearchParams(window.location.search)
const competitionId = decodeURIComponent(window.location.pathname.replace(/\/+$/, '').split('/').pop() ?? '')
const topN = Math.min(TOP_MAX, Math.max(1, Number(params.get('top')) || TOP_DEFAULT))

const el = {
  body: document.body,
  title: document.getElementById('title'),
  meta: document.getElementById('meta'),
  connectionText: document.getElementById('connection-text'),
  rows: document.getElementById('rows'),
  empty: document.getElementById('empty'),
  me: document.getElementById('me'),
  meRows: document.getElementById('me-rows'),
  participants: document.getElementById('participants'),
  updated: document.getElementById('updated'),
  template: document.getElementById('row-template')
}

const state = {
  token: params.get('token') || globalThis.HC_LIVE_TOKEN || null,
  userId: null,
  socket: null,
  seq: null,
  attempt: 0,
  retryTimer: null,
  // userId -> entry { userId, rank, position, score, reachedAt, displayName, avatarUrl }
  entries: new Map(),
  me: null,
  total: null,
  degraded: false,
  metric: null,
  lastUpdate: null
}

// The caller's user id, read (not verified: the server does that) from the token, to mark
// their own row.
function subjectOf (token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(payload)).sub ?? null
  } catch {
    return null
  }
}

function setConnection (name, text) {
  el.body.dataset.state = name
  el.connectionText.textContent = text
}

// ---- Frames -------------------------------------------------------------------------------
// The protocol (schemas/realtime.ts): a `snapshot` first (top entries, the caller's entry and
// neighbours, seq), then `update` frames holding what changed in this page's top `limit`
// (entries that changed, came in or left; `me` when the caller's own rank or score moved),
// `rank` when only the caller's own rank moved, `resumed` before replayed updates. Frames
// that held nothing for this page are not sent, so seq may jump.

function isEntry (value) {
  return value !== null && typeof value === 'object' && typeof value.userId === 'string'
}

function applySnapshot (frame) {
  state.entries.clear()
  for (const entry of (frame.entries ?? []).filter(isEntry)) state.entries.set(entry.userId, entry)
  // Neighbours further down are shown only through the caller's own row.
  state.me = isEntry(frame.me) ? { ...frame.me } : null
  if (state.me) state.userId = state.me.userId
  state.total = frame.total ?? state.total
  state.degraded = frame.degraded === true
}

// The caller's own rank and score (a rank frame, or the `me` part of an update).
function applyOwn (own) {
  if (own.rank === null) state.me = null
  else if (state.me) state.me = { ...state.me, rank: own.rank, score: own.score ?? state.me.score }
}

function applyUpdate (frame) {
  for (const entry of (frame.entries ?? []).filter(isEntry)) {
    state.entries.set(entry.userId, { ...state.entries.get(entry.userId), ...entry })
    if (entry.userId === state.userId && state.me) state.me = { ...state.me, ...entry }
  }
  for (const userId of frame.removed ?? []) {
    state.entries.delete(userId)
    if (state.me?.userId === userId) state.me = null
  }
  if (frame.me && typeof frame.me === 'object') applyOwn(frame.me)
  if (typeof frame.total === 'number') state.total = frame.total
  // Only the top `limit` is kept current by the server: rows pushed below it are dropped
  // (the server sends whoever takes their place).
  for (const entry of ranked().slice(topN)) state.entries.delete(entry.userId)
}

function onFrame (frame) {
  if (frame === null || typeof frame !== 'object') return
  switch (frame.type) {
    case 'snapshot':
      applySnapshot(frame)
      state.seq = frame.seq
      break
    case 'update':
      if (state.seq !== null && frame.seq <= state.seq) return
      state.seq = frame.seq
      applyUpdate(frame)
      break
    case 'rank':
      // Personal: the caller's rank moved while nothing in the top did.
      applyOwn(frame)
      state.seq = Math.max(state.seq ?? frame.seq, frame.seq)
      break
    case 'resumed':
      break
    case 'error':
      setConnection('failed', frame.message ?? 'Server error')
      return
    default:
      return
  }
  state.attempt = 0
  state.lastUpdate = new Date()
  setConnection('live', state.degraded ? 'Live (catching up)' : 'Live')
  render()
}

// ---- Ranking ------------------------------------------------------------------------------

// The server's rule: score desc, then first to reach the score, then user id; competition
// ranking (1, 2, 2, 4). Applied here too because an update carries only the changed rows.
function compareEntries (a, b) {
  if (a.score !== b.score) return b.score - a.score
  if (a.reachedAt && b.reachedAt && a.reachedAt !== b.reachedAt) return a.reachedAt < b.reachedAt ? -1 : 1
  if (a.position !== undefined && b.position !== undefined && a.position !== b.position) return a.position - b.position
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0
}

function ranked () {
  const sorted = [...state.entries.values()].sort(compareEntries)
  let rank = 1
  return sorted.map((entry, i) => {
    if (i > 0 && entry.score !== sorted[i - 1].score) rank = i + 1
    return { ...entry, rank: Math.max(rank, 1), position: i + 1 }
  })
}

// ---- Rendering ----------------------------------------------------------------------------

const numberFormat = new Intl.NumberFormat()

function metricLabel (metric) {
  return { steps: 'Steps', distance_m: 'Distance', active_kcal: 'Active calories', active_minutes: 'Active minutes', custom: 'Points' }[metric] ?? ''
}

function formatScore (score) {
  if (state.metric === 'distance_m') return `${(score / 1000).toFixed(score >= 100_000 ? 0 : 1)} km`
  if (state.metric === 'active_kcal') return `${numberFormat.format(score)} kcal`
  if (state.metric === 'active_minutes') return `${numberFormat.format(score)} min`
  return numberFormat.format(score)
}

function initials (name) {
  const words = String(name ?? '?').trim().split(/\s+/).filter(Boolean)
  return (words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] ?? '?').slice(0, 2)).toUpperCase()
}

function safeImageUrl (url) {
  if (typeof url !== 'string' || url === '') return null
  try {
    const parsed = new URL(url, window.location.href)
    // The page's img-src allows this origin, https: and data: images.
    if (parsed.protocol === 'data:') return /^data:image\/(png|jpeg|webp|gif|svg\+xml)[;,]/.test(url) ? url : null
    return parsed.protocol === 'https:' || parsed.origin === window.location.origin ? parsed.href : null
  } catch {
    return null
  }
}

function fillRow (row, entry, previous) {
  const name = entry.displayName || `Player ${entry.userId.slice(0, 4)}`
  row.dataset.userId = entry.userId
  row.dataset.rank = String(entry.rank)
  row.dataset.score = String(entry.score)
  row.classList.toggle('is-me', state.userId !== null && state.userId === entry.userId)
  row.querySelector('.rank').textContent = String(entry.rank)
  row.querySelector('.name').textContent = name
  row.querySelector('.name').title = name
  row.querySelector('.score').textContent = formatScore(entry.score)
  row.querySelector('.initials').textContent = initials(name)
  const img = row.querySelector('img')
  const src = safeImageUrl(entry.avatarUrl)
  if (src && img.getAttribute('src') !== src) img.src = src
  img.hidden = src === null
  row.querySelector('.initials').hidden = src !== null

  if (previous === undefined) return
  const moved = previous.position - entry.position
  if (moved !== 0 || previous.score !== entry.score) highlight(row, moved, previous.score !== entry.score)
}

function highlight (row, moved, scored) {
  clearTimeout(row._highlightTimer)
  row.classList.remove('moved-up', 'moved-down', 'scored')
  if (moved > 0) row.classList.add('moved-up')
  if (moved < 0) row.classList.add('moved-down')
  if (scored) row.classList.add('scored')
  row.querySelector('.move').textContent = moved > 0 ? `▲ ${moved}` : moved < 0 ? `▼ ${-moved}` : ''
  row._highlightTimer = setTimeout(() => {
    row.classList.remove('moved-up', 'moved-down', 'scored')
    row.querySelector('.move').textContent = ''
  }, HIGHLIGHT_MS)
}

// Rows are keyed by user and moved, not rebuilt, so a reorder can slide (FLIP animation).
const rendered = new Map()

function render () {
  const all = ranked()
  const top = all.slice(0, topN)
  const before = new Map()
  for (const [userId, row] of rendered) before.set(userId, row.getBoundingClientRect().top)

  const keep = new Set(top.map((e) => e.userId))
  for (const [userId, row] of rendered) {
    if (!keep.has(userId)) { row.remove(); rendered.delete(userId) }
  }
  top.forEach((entry, i) => {
    let row = rendered.get(entry.userId)
    const previous = row ? { position: Number(row.dataset.position), score: Number(row.dataset.score) } : undefined
    if (!row) {
      row = el.template.content.firstElementChild.cloneNode(true)
      rendered.set(entry.userId, row)
    }
    row.dataset.position = String(entry.position)
    fillRow(row, entry, previous)
    if (el.rows.children[i] !== row) el.rows.insertBefore(row, el.rows.children[i] ?? null)
  })

  if (!window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
    for (const [userId, row] of rendered) {
      const old = before.get(userId)
      if (old === undefined) continue
      const delta = old - row.getBoundingClientRect().top
      if (delta === 0) continue
      row.animate([{ transform: `translateY(${delta}px)` }, { transform: 'translateY(0)' }], { duration: 450, easing: 'ease-out' })
    }
  }

  el.empty.hidden = top.length > 0
  renderMe(keep)
  const total = state.total ?? all.length
  el.participants.textContent = `${numberFormat.format(total)} participant${total === 1 ? '' : 's'}`
  el.updated.textContent = state.lastUpdate ? `Updated ${state.lastUpdate.toLocaleTimeString()}` : ''
}

// The caller's own row under the board when they are not in the top: its rank is the
// server's, since the entries between the top and the caller are not on this page.
function renderMe (shown) {
  const me = state.me
  el.me.hidden = me === null || shown.has(me.userId)
  if (el.me.hidden) return
  let row = el.meRows.firstElementChild
  if (!row) {
    row = el.template.content.firstElementChild.cloneNode(true)
    el.meRows.append(row)
  }
  fillRow(row, me, undefined)
}

// ---- Connection ---------------------------------------------------------------------------

function socketUrl (resumeFrom) {
  const url = new URL(`/ws/leaderboard/${encodeURIComponent(competitionId)}`, window.location.href)
  url.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
  url.searchParams.set('token', state.token)
  url.searchParams.set('limit', String(topN))
  url.searchParams.set('k', '0')
  // Reconnecting with ?seq=n is the protocol's resume on connect: the server answers with
  // `resumed` and the missed updates, or a fresh snapshot when it no longer has them.
  if (resumeFrom !== null) url.searchParams.set('seq', String(resumeFrom))
  return url.href
}

function connect () {
  clearTimeout(state.retryTimer)
  if (!state.token) {
    setConnection('waiting', 'Waiting for a sign-in token')
    return
  }
  state.userId = subjectOf(state.token)
  const resuming = state.seq !== null
  setConnection(resuming ? 'reconnecting' : 'connecting', resuming ? 'Reconnecting' : 'Connecting')
  const socket = new WebSocket(socketUrl(state.seq))
  state.socket = socket
  socket.addEventListener('message', (event) => {
    if (state.socket !== socket) return
    let frame
    try { frame = JSON.parse(event.data) } catch { return }
    onFrame(frame)
  })
  socket.addEventListener('close', (event) => {
    if (state.socket !== socket) return
    state.socket = null
    onClose(event.code, event.reason)
  })
}

function onClose (code, reason) {
  if (CLOSE_UNAUTHORIZED.has(code)) {
    state.token = null
    setConnection('unauthorized', `Signed out: ${reason || 'token refused'}`)
    window.parent?.postMessage({ type: 'hc.live.token-expired' }, '*')
    return
  }
  if (CLOSE_PERMANENT.has(code)) {
    setConnection('failed', reason || (code === 4404 ? 'Competition not found' : 'Connection refused'))
    return
  }
  scheduleReconnect()
}

// Exponential backoff with jitter, so a restarted server is not hit by every page at once.
function scheduleReconnect () {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** state.attempt)
  const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  state.attempt += 1
  let remaining = Math.ceil(delay / 1000)
  setConnection('reconnecting', `Reconnecting in ${remaining} s`)
  const tick = setInterval(() => {
    remaining -= 1
    if (remaining > 0 && el.body.dataset.state === 'reconnecting') el.connectionText.textContent = `Reconnecting in ${remaining} s`
  }, 1000)
  state.retryTimer = setTimeout(() => { clearInterval(tick); connect() }, delay)
}

// Name, metric and status for the header; the feed itself carries only the ranking.
async function loadCompetition () {
  try {
    const res = await fetch(`/api/v1/competitions/${encodeURIComponent(competitionId)}`, {
      headers: { authorization: `Bearer ${state.token}` }
    })
    if (!res.ok) return
    const competition = await res.json()
    el.title.textContent = competition.name
    document.title = `${competition.name} · Live leaderboard`
    state.metric = competition.metric
    el.meta.textContent = [metricLabel(competition.metric), competition.status].filter(Boolean).join(' · ')
    render()
  } catch {
    // The header keeps its placeholder; the board does not depend on it.
  }
}

function useToken (token) {
  if (typeof token !== 'string' || token === '' || token === state.token) return
  state.token = token
  state.attempt = 0
  if (state.socket) {
    const old = state.socket
    state.socket = null
    old.close(1000, 'new token')
  }
  connect()
  loadCompetition()
}

window.addEventListener('message', (event) => {
  // Only the embedding page may hand over a token.
  if (event.source !== window.parent || window.parent === window) return
  const data = event.data
  if (data && data.type === 'hc.live.token') useToken(data.token)
})

window.addEventListener('online', () => {
  if (!state.socket && state.token) { state.attempt = 0; connect() }
})

el.title.textContent = `Competition ${competitionId.slice(0, 8)}`
render()
if (window.parent !== window) window.parent.postMessage({ type: 'hc.live.ready', competitionId }, '*')
connect()
if (state.token) loadCompetition()
