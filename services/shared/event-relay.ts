import type { DomainEventType } from '../../schemas/domain-events.ts'
import type { Db, Transact } from './transactions.ts'

// Hands committed outbox events (outbox.ts) to the job queue. Each batch is claimed, routed to
// its consumers' queues and marked relayed in one transaction, so an event is handed over
// exactly once however many instances relay at the same time (SKIP LOCKED lets each take
// different rows) and whenever one of them dies. A NOTIFY sent by the outbox's trigger on
// commit wakes the relay at once; a poll catches anything missed while it was not listening.

export interface RelayedEvent {
  id: string
  type: DomainEventType
  occurredAt: string
  data: Record<string, unknown>
}

export interface EventRelayDeps {
  transact: Transact
  // Subscribes to a NOTIFY channel (lib/pg-listener.ts).
  listen: (channel: string, onNotification: () => void, onReconnect: () => void) => Promise<{ close: () => Promise<void> }>
  // Enqueues the events for their consumers, in the relay's transaction.
  route: (tx: Db, events: RelayedEvent[]) => Promise<void>
  log: { warn: (obj: object, msg: string) => void }
  batchSize?: number
  pollMs?: number
}

const CLAIM = `UPDATE domain_events e SET relayed_at = clock_timestamp()
  FROM (SELECT id FROM domain_events WHERE relayed_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) claimed
  WHERE e.id = claimed.id
  RETURNING e.id, e.seq, e.type, e.payload, e.occurred_at`

interface ClaimedRow { id: string, seq: string, type: DomainEventType, payload: Record<string, unknown>, occurred_at: Date }

export function createEventRelay ({ transact, listen, route, log, batchSize = 200, pollMs = 1000 }: EventRelayDeps) {
  let draining: Promise<void> | null = null
  let again = false
  let closed = false
  let subscription: { close: () => Promise<void> } | null = null
  let timer: NodeJS.Timeout | null = null
  const isClosed = () => closed

  async function relayBatch (): Promise<number> {
    return await transact(async (tx) => {
      const { rows } = await tx.query<ClaimedRow>(CLAIM, [batchSize])
      if (rows.length === 0) return 0
      rows.sort((a, b) => Number(a.seq) - Number(b.seq))
      await route(tx, rows.map((r) => ({ id: r.id, type: r.type, occurredAt: r.occurred_at.toISOString(), data: r.payload })))
      return rows.length
    })
  }

  // Batches until one comes back short, and again if a wake-up came meanwhile.
  async function drain (): Promise<void> {
    for (;;) {
      again = false
      let full = true
      while (full && !isClosed()) full = await relayBatch() === batchSize
      if (!again || isClosed()) return
    }
  }

  // Single flight: a wake-up during a drain makes it look once more when it is done.
  function wake (): void {
    if (closed) return
    if (draining !== null) { again = true; return }
    draining = drain()
      .catch((err: unknown) => log.warn({ err }, 'event relay failed; it tries again at the next poll'))
      .finally(() => { draining = null })
  }

  async function idle (): Promise<void> {
    for (let current = draining; current !== null; current = draining) await current
  }

  return {
    wake,
    // Relays everything waiting (events committed while no instance ran) and then follows new ones.
    async start (): Promise<void> {
      subscription = await listen('domain_events', wake, wake)
      timer = setInterval(wake, pollMs)
      timer.unref()
      wake()
    },
    // Resolves once the outbox holds nothing this instance could relay now (tests, shutdown).
    async settled (): Promise<void> {
      await idle()
    },
    async close (): Promise<void> {
      closed = true
      if (timer !== null) clearInterval(timer)
      await idle()
      await subscription?.close()
    }
  }
}

export type EventRelay = ReturnType<typeof createEventRelay>
