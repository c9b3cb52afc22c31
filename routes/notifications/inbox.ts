import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, UserIdParamsSchema, UuidSchema } from '../../schemas/common.ts'
import { InboxQuerySchema, MarkAllReadSchema, NotificationPageSchema, NotificationSchema, UnreadCountSchema } from '../../schemas/notifications.ts'

const NotificationParamsSchema = Type.Object({ userId: UuidSchema, notificationId: UuidSchema })

const inboxRoutes: FastifyPluginAsyncTypebox = async function inboxRoutes (fastify) {
  const { inbox } = fastify.notifications

  fastify.get('/users/:userId/notifications', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'The user\'s inbox, newest first, with each notification\'s delivery log',
      params: UserIdParamsSchema,
      querystring: InboxQuerySchema,
      response: { 200: NotificationPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listNotifications (request) {
    const { cursor, limit = 20, unread } = request.query
    return await inbox.list(fastify.authorize.targetUserId(request), { cursor, limit, unread })
  })

  fastify.get('/users/:userId/notifications/unread-count', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'How many notifications the user has not read (the app\'s badge)',
      params: UserIdParamsSchema,
      response: { 200: UnreadCountSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function countUnreadNotifications (request) {
    return { unread: await inbox.unreadCount(fastify.authorize.targetUserId(request)) }
  })

  fastify.post('/users/:userId/notifications/:notificationId/read', {
    preHandler: fastify.authorize.self('Only the user may mark their notifications read'),
    schema: {
      tags: ['notifications'],
      summary: 'Mark one notification read (reading it again keeps the first time)',
      params: NotificationParamsSchema,
      response: { 200: NotificationSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function markNotificationRead (request) {
    return await inbox.markRead(fastify.authorize.targetUserId(request), request.params.notificationId.toLowerCase())
  })

  fastify.post('/users/:userId/notifications/read-all', {
    preHandler: fastify.authorize.self('Only the user may mark their notifications read'),
    schema: {
      tags: ['notifications'],
      summary: 'Mark every unread notification read; how many were',
      params: UserIdParamsSchema,
      response: { 200: MarkAllReadSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function markAllNotificationsRead (request) {
    return { updated: await inbox.markAllRead(fastify.authorize.targetUserId(request)) }
  })
}

export default inboxRoutes
