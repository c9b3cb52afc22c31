import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, UuidSchema } from '../schemas/common.ts'

const MeSchema = Type.Object({
  id: UuidSchema,
  email: Type.Union([Type.String(), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin'), Type.Literal('service')]),
  isAdmin: Type.Boolean({ description: 'true for admins and the service role' })
}, { examples: [{ id: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', email: 'ada@example.com', role: 'user', isAdmin: false }] })

// Who the bearer token says the caller is: lets a client check its token in one call.
const meRoutes: FastifyPluginAsyncTypebox = async function meRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/me', {
    schema: {
      tags: ['users'],
      summary: 'The signed-in caller',
      description: 'Who the token says the caller is. Like any first authenticated call, it creates the caller\'s user ' +
        '(profile, wallet and competitions then work, and admins can credit them); later calls change nothing.',
      response: { 200: MeSchema, ...errorResponses(401, 429) }
    }
  }, async function getMe (request) {
    const { id, email, role, isAdmin } = request.user
    return { id, email, role, isAdmin }
  })
}

export default meRoutes
