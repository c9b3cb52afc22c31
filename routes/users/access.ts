import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errors } from '../../lib/errors.ts'

// Who may call a route, declared per route in `config.accessRule`:
// - 'user': any signed-in caller (the default)
// - 'owner': the user named by :userId (or body.userId, else the caller), or an admin
// - 'admin': admins and trusted service callers only
// - 'creator': whoever COMPETITION_CREATORS allows to create competitions
export type AccessRule = 'user' | 'owner' | 'admin' | 'creator'

declare module 'fastify' {
  interface FastifyContextConfig {
    accessRule?: AccessRule
  }
}

// The user a request acts on: the path's :userId, else an admin's body.userId, else the caller.
export function targetUserId (request: FastifyRequest): string {
  const params = request.params as { userId?: string } | undefined
  const body = request.body as { userId?: string } | null | undefined
  return (params?.userId ?? body?.userId ?? request.user.id).toLowerCase()
}

export function actsForSelfOrAdmin (request: FastifyRequest): boolean {
  return request.user.isAdmin || targetUserId(request) === request.user.id
}

// The one authorisation hook of the users and competitions domains (the caller's users row
// exists: authentication provisions it).
export function authorise (fastify: FastifyInstance) {
  return async function authoriseRequest (request: FastifyRequest): Promise<void> {
    const rule = request.routeOptions.config.accessRule ?? 'user'
    if (rule === 'admin' && !request.user.isAdmin) throw errors.Forbidden('Only admins may do this')
    if (rule === 'owner' && !actsForSelfOrAdmin(request)) throw errors.Forbidden('You may only act on your own account')
    if (rule === 'creator' && fastify.config.COMPETITION_CREATORS === 'admins' && !request.user.isAdmin) {
      throw errors.Forbidden('Only admins may create competitions')
    }
  }
}
