import type { DomainEventType } from '../../schemas/domain-events.ts'
import type { RelayedEvent } from './event-relay.ts'
import type { Db } from './transactions.ts'

// The job queue as services see it (wired on pg-boss in wiring/jobs.ts). A job is enqueued
// in the caller's transaction: it exists once that commits, and never for a change that rolled
// back. Handlers must be idempotent: a job is retried after a failure or a crash, so it may
// run again after it had taken effect.

export interface EnqueueOptions {
  // Not before this instant.
  startAfter?: Date
  // At most one queued or running job with this key in the queue; a second one is dropped.
  singletonKey?: string
}

export interface JobQueue {
  send: (db: Db, queue: string, data: object, options?: EnqueueOptions) => Promise<void>
  // Many jobs in one statement; repeats of an exclusive queue's keys are dropped.
  sendMany: (db: Db, queue: string, jobs: Array<{ data: object } & EnqueueOptions>) => Promise<void>
}

export interface WorkerSetup {
  // Seconds between polls for jobs whose start time has come (new jobs wake workers at once).
  pollingIntervalSeconds?: number
  // Workers this instance runs for this queue.
  concurrency?: number
  // Jobs one worker fetches and runs at once (default 10); 1 for heavy jobs (a batch of sends).
  batchSize?: number
  // exclusive: at most one queued or running job per singletonKey (a repeat is dropped).
  // stately: at most one queued and one running per singletonKey (a repeat while one waits is
  // dropped: the waiting one will see what the repeat would have).
  policy?: 'standard' | 'exclusive' | 'stately'
  // false: the queue is declared and takes jobs, but this instance runs none of them.
  run?: boolean
}

// retryCount is 0 on the first run; a run with retryCount === retryLimit is the job's last.
export interface JobAttempt { id: string, retryCount: number, retryLimit: number }

export type JobHandler<T> = (data: T, attempt: JobAttempt) => Promise<void>

export interface EventConsumer {
  // A name of its own: its queue is `events.<name>`.
  name: string
  types: DomainEventType[]
  // Of those types, the ones it wants now, read in the relay's transaction (webhooks: the types
  // some enabled endpoint subscribes to), so events nobody would receive make no jobs.
  wants?: (db: Db) => Promise<Set<DomainEventType>>
  // Events of one key coalesce: while a job of the key waits, the next is dropped, so the
  // handler must read what it handles from the store rather than from the one event it is given
  // (the rank messages of a competition's score changes).
  key?: (event: RelayedEvent) => string
  handle: (event: RelayedEvent) => Promise<void>
}
