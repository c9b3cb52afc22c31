import { EventEmitter } from 'node:events'

// Domain events inside one instance, for one domain reacting to another. Cross-instance
// fan-out (leaderboard frames) goes over Redis pub/sub in the live broadcaster.
export interface DomainEvents {
  'competition.status': [{ competitionId: string, from: string, to: string, at: Date }]
  'participant.joined': [{ competitionId: string, userId: string }]
  'participant.left': [{ competitionId: string, userId: string }]
  // A user's display name or avatar changed.
  'user.profile': [{ userId: string }]
  error: [Error]
}

export type EventBus = EventEmitter<DomainEvents>

// A listener that rejects is reported on the bus's 'error' event.
export function createEventBus (): EventBus {
  return new EventEmitter<DomainEvents>({ captureRejections: true })
}

type Published = Exclude<keyof DomainEvents, 'error'>

// Called once the change has committed: a listener that throws is reported on the bus's
// 'error' event and never turns a committed change into a failed request or sweep.
export function publish<K extends Published> (events: Pick<EventBus, 'emit'>, name: K, ...args: DomainEvents[K]): void {
  try {
    (events.emit as (name: K, ...args: DomainEvents[K]) => boolean)(name, ...args)
  } catch (err) {
    events.emit('error', err as Error)
  }
}
