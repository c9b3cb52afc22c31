import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fastifyMultipart from '@fastify/multipart'
import { errors } from '../../lib/errors.ts'
import { errorResponses, UserIdParamsSchema } from '../../schemas/common.ts'
import { AvatarSchema } from '../../schemas/users.ts'
import { readAvatarForm } from './avatar-form.ts'

const AvatarUploadSchema = {
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        description: 'One part only: the image in the field "file"; a second file, a file under another name or any other field is refused with 400',
        additionalProperties: false,
        properties: { file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP or HEIC image' } }
      }
    }
  }
} as const

const avatarRoutes: FastifyPluginAsyncTypebox = async function avatarRoutes (fastify) {
  const maxBytes = fastify.config.AVATAR_MAX_BYTES
  await fastify.register(fastifyMultipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: maxBytes, files: 1, fields: 5, parts: 10, fieldSize: 1024 }
  })

  fastify.post('/users/:userId/avatar', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['users'],
      summary: 'Upload an avatar: re-encoded to a square WebP of at most 512 px, metadata stripped',
      consumes: ['multipart/form-data'],
      params: UserIdParamsSchema,
      body: AvatarUploadSchema,
      response: { 200: AvatarSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429) }
    },
    // The stream is read in the handler; the schema above only documents the form.
    preValidation: async function streamedBody (request) {
      request.body ??= {}
    }
  }, async function uploadAvatar (request) {
    if (!request.isMultipart()) throw errors.UnsupportedMediaType('Send the image as multipart/form-data')
    const upload = await readAvatarForm(request, { maxBytes, multipartErrors: fastify.multipartErrors })
    const avatar = await fastify.avatars.replace(fastify.authorize.targetUserId(request), upload)
    return { avatarUrl: avatar.url, width: avatar.width, height: avatar.height, bytes: avatar.bytes }
  })
}

export default avatarRoutes
