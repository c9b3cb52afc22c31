import fp from 'fastify-plugin'
import { EventEmitter } from 'node:events'

// Domain events inside one instance. Cross-instance fan-out (leaderboard frames) goes over
// Redis pub/sub in the broadcaster; these are for one domain reacting to another.
export interface DomainEvents {
  'competition.status': [{ competitionId: string, from: string, to: string, at: Date }]
  'participant.joined': [{ competitionId: string, userId: string }]
  'participant.left': [{ competitionId: string, userId: string }]
  // A user's display name or avatar changed.
  'user.profile': [{ userId: string }]
  error: [Error]
}

export type EventBus = EventEmitter<DomainEvents>

declare module 'fastify' {
  interface FastifyInstance {
    events: EventBus
  }
}

export default fp(async function eventsPlugin (fastify) {
  const bus: EventBus = new EventEmitter<DomainEvents>({ captureRejections: true })
  // A failing listener is logged; it never breaks the emitter or the request that emitted.
  bus.on('error', (err) => fastify.log.error({ err }, 'domain event listener failed'))
  fastify.decorate('events', bus)
  fastify.addHook('onClose', async () => { bus.removeAllListeners() })
}, { name: 'events' })
