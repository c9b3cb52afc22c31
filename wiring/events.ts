import fp from 'fastify-plugin'
import { createEventBus, type EventBus } from '../services/shared/domain-events.ts'

declare module 'fastify' {
  interface FastifyInstance {
    events: EventBus
  }
}

export default fp(async function eventsWiring (fastify) {
  const bus = createEventBus()
  // A failing listener is logged; it never breaks the emitter or the request that emitted.
  bus.on('error', (err) => fastify.log.error({ err }, 'domain event listener failed'))
  fastify.decorate('events', bus)
  fastify.addHook('onClose', async () => { bus.removeAllListeners() })
}, { name: 'events' })
