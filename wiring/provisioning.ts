import fp from 'fastify-plugin'
import { createUserProvisioning, type ProvisionUser } from '../services/users/provisioning.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Creates a users row from a token's claims unless it exists (authenticate's one path).
    provisionUser: ProvisionUser
  }
}

// Registered before auth, which calls it for every verified caller.
export default fp(async function provisioningWiring (fastify) {
  fastify.decorate('provisionUser', createUserProvisioning({ pool: fastify.pg.pool }))
}, { name: 'user-provisioning', dependencies: ['postgres'] })
