import pg from 'pg'
import type { DomainEventPayload, DomainEventType } from '../../schemas/domain-events.ts'
import type { Db } from './transactions.ts'

// The transactional outbox: a domain event is written with the change it describes, in the
// caller's transaction, so both commit or neither does. The relay (event-relay.ts) hands the
// committed events to the job queue.

export interface NewDomainEvent<K extends DomainEventType = DomainEventType> {
  type: K
  data: DomainEventPayload<K>
}

export function domainEvent<K extends DomainEventType> (type: K, data: DomainEventPayload<K>): NewDomainEvent {
  return { type, data } as unknown as NewDomainEvent
}

// The competition and user an event is about, kept in columns for listing and replay.
function subjectsOf (event: NewDomainEvent): [string | null, string | null] {
  const data = event.data as { competitionId?: string, userId?: string }
  return [data.competitionId ?? null, data.userId ?? null]
}

export async function recordEvents (db: Db, events: NewDomainEvent[]): Promise<void> {
  if (events.length > 0) await db.query(recordEventsStatement(events))
}

// One statement of literals, so a batch that sends its statements as one simple query (the
// score batch) can carry it too; every value is escaped by pg.
export function recordEventsStatement (events: NewDomainEvent[]): string {
  const rows = events.map((event) => {
    const [competitionId, userId] = subjectsOf(event)
    const uuid = (v: string | null) => v === null ? 'NULL' : `${pg.escapeLiteral(v)}::uuid`
    return `(${pg.escapeLiteral(event.type)}, ${uuid(competitionId)}, ${uuid(userId)}, ${pg.escapeLiteral(JSON.stringify(event.data))}::jsonb)`
  })
  return `INSERT INTO domain_events (type, competition_id, user_id, payload) VALUES ${rows.join(', ')}`
}

// Relayed events older than the retention, deleted in slices so no statement holds many locks;
// the number deleted. Events still waiting for the relay are never deleted.
export async function pruneRelayedEvents (db: Db, retentionDays: number, slice = 10_000): Promise<number> {
  let deleted = 0
  for (;;) {
    const { rowCount } = await db.query(`DELETE FROM domain_events WHERE id IN (
        SELECT id FROM domain_events WHERE relayed_at < now() - $1 * interval '1 day' ORDER BY seq LIMIT $2)`, [retentionDays, slice])
    deleted += rowCount ?? 0
    if ((rowCount ?? 0) < slice) return deleted
  }
}
