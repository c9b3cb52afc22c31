import type { DomainEvents, EventBus } from '../plugins/events.ts'

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
