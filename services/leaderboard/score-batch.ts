import pg from 'pg'
import type { Db, FoldedStatements } from '../shared/transactions.ts'
import { isUuid } from '../../lib/uuid.ts'
import { isBetter, MICROS_SQL, type ScoreOrder } from './ranking.ts'
import { domainEvent, recordEventsStatement, type NewDomainEvent } from '../shared/outbox.ts'

// The score write path: a batch of score changes decided and applied in one transaction.

export type ScoreOperation = 'set' | 'increment' | 'best' | 'sync'

export interface ScoreChange {
  competitionId: string
  userId: string
  operation: ScoreOperation
  // Safe integer >= 0 for set/best/sync; increment may be negative (the score stops at 0).
  value: number
  idempotencyKey: string
}

// Why a change was not applied. 'duplicate' and 'unchanged' are accepted (the key is used up);
// the others were rejected and changed nothing.
export type SkipReason = 'duplicate' | 'unchanged' | 'key_reused' | 'unknown_competition' | 'inactive' | 'wrong_metric' | 'not_participant' | 'invalid'

export interface ScoreResult {
  competitionId: string
  userId: string
  // false = duplicate key, no change, or rejected (see reason).
  applied: boolean
  score: number
  reason?: SkipReason
}

// What the Redis projection needs to mirror an accepted change.
export interface ProjectedScore {
  competitionId: string
  userId: string
  score: number
  version: string
  reachedMicros: string
}

const SCORING_STATUSES = new Set(['active', 'grace'])

// Whether a competition in this status takes score changes.
export function isScoring (status: string): boolean {
  return SCORING_STATUSES.has(status)
}

// The score after one operation. `current` is null while the participant has no score yet
// (only where the lowest wins: elsewhere every participant starts from 0); best keeps the
// better score by the competition's order.
export function nextScore (operation: ScoreOperation, current: number | null, value: number, order: ScoreOrder = 'highest_wins'): number {
  switch (operation) {
    case 'increment': return Math.max(0, (current ?? 0) + value)
    case 'best': return current === null || isBetter(order, value, current) ? value : current
    default: return value
  }
}

function validChange (change: ScoreChange): boolean {
  const { operation, value, idempotencyKey } = change
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length < 1 || idempotencyKey.length > 200) return false
  if (!Number.isSafeInteger(value)) return false
  if (operation === 'increment') return true
  return ['set', 'best', 'sync'].includes(operation) && value >= 0
}

// Several statements sent as one simple query, answered in one round trip. Such statements
// cannot take bound parameters, so values go in as array literals: every id is checked to be a
// UUID and every number a safe integer before it is written out, and text is escaped by pg.
async function multi (db: Db, statements: string[]): Promise<Array<pg.QueryResult<Record<string, string>>>> {
  const result = await db.query(statements.join(';\n')) as unknown as pg.QueryResult | pg.QueryResult[]
  return Array.isArray(result) ? result : [result]
}

function uuids (values: string[]): string {
  for (const v of values) if (!isUuid(v)) throw new Error(`not a UUID: ${v}`)
  return `ARRAY[${values.map((v) => `'${v}'`).join(',')}]::uuid[]`
}

function bigints (values: number[]): string {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new Error(`not a safe integer: ${v}`)
  return `ARRAY[${values.join(',')}]::bigint[]`
}

function texts (values: string[]): string {
  return `ARRAY[${values.map((v) => pg.escapeLiteral(v)).join(',')}]::text[]`
}

// Applies a batch as one transaction on the given client, in two round trips: it runs in
// withTransaction's folded mode, so `folded.begin` goes with the reads (lock the competitions,
// lock the participants, look up the keys) and `folded.commit` with the writes (insert the
// events, update the scores). On a loaded machine each round
// trip costs more than the statements themselves, and the batch holds its locks throughout.
// Rows are locked in (competition, user) order so concurrent batches cannot deadlock on each
// other; competitions are share-locked so a status change waits for the scores being written
// under the old status. `onlyMetric` restricts the batch to competitions scoring that metric
// (direct updates: custom). On an error the helper rolls back. A batch with no well-formed
// change is answered without a round trip.
export async function applyScoreChanges (tx: Db, folded: FoldedStatements, changes: ScoreChange[], opts: { onlyMetric?: string } = {}): Promise<{ results: ScoreResult[], projected: ProjectedScore[] }> {
  const order = changes.map((_, i) => i).sort((a, b) => {
    const x = changes[a]!
    const y = changes[b]!
    return x.competitionId.localeCompare(y.competitionId) || x.userId.localeCompare(y.userId) || a - b
  })
  const results: ScoreResult[] = new Array(changes.length)
  const skip = (i: number, reason: SkipReason, score = 0) => {
    const { competitionId, userId } = changes[i]!
    results[i] = { competitionId, userId, applied: false, score, reason }
  }
  const valid: number[] = []
  for (const i of order) {
    const change = changes[i]!
    if (!isUuid(change.userId) || !validChange(change)) skip(i, 'invalid')
    else if (!isUuid(change.competitionId)) skip(i, 'unknown_competition')
    else valid.push(i)
  }
  // Nothing to look up or write: no transaction at all.
  if (valid.length === 0) return { results, projected: [] }
  const pairOf = (c: ScoreChange) => `${c.competitionId.toLowerCase()}|${c.userId.toLowerCase()}`
  const keyOf = (c: ScoreChange) => `${c.competitionId.toLowerCase()}|${c.idempotencyKey}`
  const ids = [...new Set(valid.map((i) => changes[i]!.competitionId.toLowerCase()))].sort()
  const pairs = [...new Set(valid.map((i) => pairOf(changes[i]!)))].map((p) => p.split('|') as [string, string])
  const metricRule = opts.onlyMetric === undefined ? '' : ` AND c.metric = ${pg.escapeLiteral(opts.onlyMetric)}`
  const read = await multi(tx, [
    folded.begin,
    `SELECT id, status, metric, score_order FROM competitions WHERE id = ANY(${uuids(ids)}) ORDER BY id FOR SHARE`,
    // Participant rows of scoring competitions only (and of the metric, if one is required).
    `SELECT p.competition_id, p.user_id, p.score::text, (p.standing IS NULL)::text AS unscored FROM participants p
     JOIN competitions c ON c.id = p.competition_id AND c.status IN ('active', 'grace')${metricRule}
     JOIN unnest(${uuids(pairs.map((p) => p[0]))}, ${uuids(pairs.map((p) => p[1]))}) AS v(competition_id, user_id)
       ON p.competition_id = v.competition_id AND p.user_id = v.user_id
     ORDER BY p.competition_id, p.user_id FOR UPDATE OF p`,
    // Keys of the batch that earlier updates already used.
    `SELECT e.competition_id, e.idempotency_key, e.user_id, e.operation, e.value::text FROM score_events e
     JOIN unnest(${uuids(valid.map((i) => changes[i]!.competitionId.toLowerCase()))}, ${texts(valid.map((i) => changes[i]!.idempotencyKey))})
       AS k(competition_id, idempotency_key) ON e.competition_id = k.competition_id AND e.idempotency_key = k.idempotency_key`
  ])
  const [competitions, locked, earlier] = [1, 2, 3].map((n) => read[n]?.rows ?? [])
  const byId = new Map(competitions!.map((c) => [c.id!, { status: c.status!, metric: c.metric!, order: c.score_order as ScoreOrder }]))
  const current = new Map(locked!.map((r) => [`${r.competition_id}|${r.user_id}`, Number(r.score)]))
  // Participants without a score yet where the lowest wins: their first change always counts.
  const unscored = new Set(locked!.filter((r) => r.unscored === 'true').map((r) => `${r.competition_id}|${r.user_id}`))
  // Scores before the batch, for the event's previousScore.
  const initial = new Map(current)
  const used = new Map(earlier!.map((r) => [`${r.competition_id}|${r.idempotency_key}`, { userId: r.user_id!, operation: r.operation!, value: Number(r.value) }]))

  // The changes in order, each from the score the previous one left.
  const events: Array<[string, string, string, string, number, number, number]> = []
  const touched = new Set<string>()
  for (const i of valid) {
    const change = changes[i]!
    const competition = byId.get(change.competitionId.toLowerCase())
    if (competition === undefined) { skip(i, 'unknown_competition'); continue }
    if (opts.onlyMetric !== undefined && competition.metric !== opts.onlyMetric) { skip(i, 'wrong_metric'); continue }
    if (!SCORING_STATUSES.has(competition.status)) { skip(i, 'inactive'); continue }
    const pair = pairOf(change)
    const before = current.get(pair)
    if (before === undefined) { skip(i, 'not_participant'); continue }
    const score = nextScore(change.operation, unscored.has(pair) ? null : before, change.value, competition.order)
    if (!Number.isSafeInteger(score)) { skip(i, 'invalid', before); continue }
    const first = used.get(keyOf(change))
    if (first !== undefined) {
      const same = first.userId === change.userId.toLowerCase() && first.operation === change.operation && first.value === change.value
      skip(i, same ? 'duplicate' : 'key_reused', before)
      continue
    }
    used.set(keyOf(change), { userId: change.userId.toLowerCase(), operation: change.operation, value: change.value })
    const [competitionId, userId] = pair.split('|') as [string, string]
    events.push([competitionId, userId, change.idempotencyKey, change.operation, change.value, before, score])
    current.set(pair, score)
    const firstScore = unscored.delete(pair)
    if (score === before && !firstScore) { skip(i, 'unchanged', before); continue }
    results[i] = { competitionId: change.competitionId, userId: change.userId, applied: true, score }
    touched.add(pair)
  }

  const writes: string[] = []
  if (events.length > 0) {
    const column = <T> (n: number) => events.map((e) => e[n] as T)
    // No ON CONFLICT: a key another transaction committed after we looked fails the whole
    // batch, which is decided again (as a serialisation failure, which the caller retries).
    writes.push(`INSERT INTO score_events (competition_id, user_id, idempotency_key, operation, value, score_before, score_after)
      SELECT * FROM unnest(${uuids(column(0))}, ${uuids(column(1))}, ${texts(column(2))}, ${texts(column(3))},
        ${bigints(column(4))}, ${bigints(column(5))}, ${bigints(column(6))})`)
  }
  const rows = [...touched].map((pair) => [...pair.split('|'), current.get(pair)!] as [string, string, number])
  // One score.changed event per competition of the batch, in the same commit (the outbox).
  if (rows.length > 0) writes.push(recordEventsStatement(scoreEvents(rows, initial)))
  if (rows.length > 0) {
    writes.push(`UPDATE participants p
      SET score = v.score, scored = true, reached_at = clock_timestamp(), score_version = p.score_version + 1
      FROM unnest(${uuids(rows.map((r) => r[0]))}, ${uuids(rows.map((r) => r[1]))}, ${bigints(rows.map((r) => r[2]))}) AS v(competition_id, user_id, score)
      WHERE p.competition_id = v.competition_id AND p.user_id = v.user_id
      RETURNING p.competition_id, p.user_id, p.score::text, p.score_version::text AS version, ${MICROS_SQL} AS micros`)
  }
  const written = await multi(tx, [...writes, folded.commit]).catch((err: { code?: string, constraint?: string }) => {
    if (err.code === '23505' && err.constraint === 'score_events_competition_id_idempotency_key_key') {
      throw Object.assign(new Error('An idempotency key was used concurrently'), { code: '40001' })
    }
    throw err
  })
  const updated = rows.length > 0 ? written[writes.length - 1]!.rows : []
  const projected = updated.map((r) => ({ competitionId: r.competition_id!, userId: r.user_id!, score: Number(r.score), version: r.version!, reachedMicros: r.micros! }))
  return { results, projected }
}

// The batch's new scores, coalesced into one event per competition.
function scoreEvents (rows: Array<[string, string, number]>, initial: Map<string, number>): NewDomainEvent[] {
  const byCompetition = new Map<string, Array<{ userId: string, score: number, previousScore: number }>>()
  for (const [competitionId, userId, score] of rows) {
    const changes = byCompetition.get(competitionId) ?? []
    changes.push({ userId, score, previousScore: initial.get(`${competitionId}|${userId}`)! })
    byCompetition.set(competitionId, changes)
  }
  return [...byCompetition].map(([competitionId, changes]) => domainEvent('score.changed', { competitionId, changes }))
}
