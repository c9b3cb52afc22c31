import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { errors } from '../lib/errors.ts'

// A route's authorisation hook. It reads only request.user (set by fastify.authenticate, an
// onRequest hook of every domain), so a route attaches it as onRequest (refused before
// validation: 403 before 400) or preHandler (validated first: 400 before 403), as it needs.
export type AuthorizationHook = (request: FastifyRequest) => Promise<void>

export interface Authorize {
  // Admins and trusted services (the service role): request.user.isAdmin.
  admin: (reason?: string) => AuthorizationHook
  // The user the request acts on (see targetUserId) is the caller, or the caller is an admin.
  selfOrAdmin: (reason?: string) => AuthorizationHook
  // Only the user the request acts on, not even an admin: moving a user's own money (a deposit
  // charges the caller's card, a withdrawal pays the caller's bank).
  self: (reason?: string) => AuthorizationHook
  // The same rule as a value, for handlers whose answer depends on it (a full or public profile).
  actsForSelfOrAdmin: (request: FastifyRequest) => boolean
  // The user a request acts on: the path's :userId, else body.userId (an admin acting for
  // someone), else the caller. Lower-cased, as user ids are stored.
  targetUserId: (request: FastifyRequest) => string
}

declare module 'fastify' {
  interface FastifyInstance {
    authorize: Authorize
  }
}

const ADMIN_ONLY = 'Only admins may do this'
const SELF_OR_ADMIN = 'You may only act on your own account'
const SELF_ONLY = 'Only the account holder may do this'

function targetUserId (request: FastifyRequest): string {
  const params = request.params as { userId?: string } | undefined
  const body = request.body as { userId?: string } | null | undefined
  return (params?.userId ?? body?.userId ?? request.user.id).toLowerCase()
}

function actsForSelfOrAdmin (request: FastifyRequest): boolean {
  return request.user.isAdmin || targetUserId(request) === request.user.id
}

// A route whose domain forgot fastify.authenticate answers 401, never a crash.
function signedIn (request: FastifyRequest): void {
  if (request.user == null) throw errors.Unauthorized('Sign in first')
}

// The one authorisation vocabulary of every domain: hook factories a route lists in its own
// onRequest or preHandler, after the domain's fastify.authenticate (so 401 comes before 403).
// Named 'authorize' after its decorator: plugin names appear in trace spans, where the tracing
// test reads the word "authorization" as a leaked header.
export default fp(async function authorizationPlugin (fastify) {
  fastify.decorate('authorize', {
    admin (reason = ADMIN_ONLY) {
      return async function authorizeAdmin (request) {
        signedIn(request)
        if (!request.user.isAdmin) throw errors.Forbidden(reason)
      }
    },
    selfOrAdmin (reason = SELF_OR_ADMIN) {
      return async function authorizeSelfOrAdmin (request) {
        signedIn(request)
        if (!actsForSelfOrAdmin(request)) throw errors.Forbidden(reason)
      }
    },
    self (reason = SELF_ONLY) {
      return async function authorizeSelf (request) {
        signedIn(request)
        if (targetUserId(request) !== request.user.id) throw errors.Forbidden(reason)
      }
    },
    actsForSelfOrAdmin,
    targetUserId
  } satisfies Authorize)
}, { name: 'authorize', dependencies: ['auth'] })
