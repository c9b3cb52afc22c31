import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, UserIdParamsSchema, UuidSchema } from '../../schemas/common.ts'
import { DeviceListSchema, DeviceSchema, NewDeviceSchema } from '../../schemas/notifications.ts'

const DeviceParamsSchema = Type.Object({ userId: UuidSchema, deviceId: UuidSchema })

const deviceRoutes: FastifyPluginAsyncTypebox = async function deviceRoutes (fastify) {
  const { devices } = fastify.notifications

  fastify.post('/users/:userId/devices', {
    preHandler: fastify.authorize.self('Only the user may register their devices'),
    schema: {
      tags: ['notifications'],
      summary: 'Register a push token of the user\'s app install (201 new, 200 known: refreshed)',
      description: 'A token registered by another user moves to this one (someone else signed in on the phone). ' +
        'A user keeps their ten most recently seen installs. Tokens a provider reports as unregistered are removed.',
      params: UserIdParamsSchema,
      body: NewDeviceSchema,
      response: { 200: DeviceSchema, 201: DeviceSchema, ...errorResponses(400, 401, 403, 413, 429) }
    }
  }, async function registerPushDevice (request, reply) {
    const { device, created } = await devices.register(fastify.authorize.targetUserId(request), request.body)
    return await reply.code(created ? 201 : 200).send(device)
  })

  fastify.get('/users/:userId/devices', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'The user\'s registered push devices, most recently seen first (tokens are not shown)',
      params: UserIdParamsSchema,
      response: { 200: DeviceListSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listPushDevices (request) {
    return { items: await devices.list(fastify.authorize.targetUserId(request)) }
  })

  fastify.delete('/users/:userId/devices/:deviceId', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['notifications'],
      summary: 'Remove a push device (signed out, notifications turned off on the phone)',
      params: DeviceParamsSchema,
      response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function removePushDevice (request, reply) {
    await devices.remove(fastify.authorize.targetUserId(request), request.params.deviceId.toLowerCase())
    return await reply.code(204).send(null)
  })
}

export default deviceRoutes
