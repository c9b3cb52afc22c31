import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, UserIdParamsSchema } from '../../schemas/common.ts'
import { PreferencesPatchSchema, PreferencesSchema } from '../../schemas/notifications.ts'

const preferenceRoutes: FastifyPluginAsyncTypebox = async function preferenceRoutes (fastify) {
  const { preferences } = fastify.notifications

  fastify.get('/users/:userId/notification-preferences', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'Which channels each kind of notification uses, quiet hours and the daily cap',
      params: UserIdParamsSchema,
      response: { 200: PreferencesSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function getNotificationPreferences (request) {
    return await preferences.get(fastify.authorize.targetUserId(request))
  })

  fastify.patch('/users/:userId/notification-preferences', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'Change notification preferences; fields left out keep their value',
      description: 'SMS may be turned on only for money and security. Quiet hours are local times in the user\'s time zone ' +
        '(the profile\'s timeZone); null removes them.',
      params: UserIdParamsSchema,
      body: PreferencesPatchSchema,
      response: { 200: PreferencesSchema, ...errorResponses(400, 401, 403, 404, 413, 429) }
    }
  }, async function updateNotificationPreferences (request) {
    return await preferences.update(fastify.authorize.targetUserId(request), request.body)
  })
}

export default preferenceRoutes
