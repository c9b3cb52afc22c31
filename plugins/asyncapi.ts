import fp from 'fastify-plugin'
import { asyncApiDocument } from '../lib/asyncapi.ts'

// The live feed's AsyncAPI 3 document (lib/asyncapi.ts), built once at start-up. Hidden from
// the OpenAPI document: it describes a document, not the API.
export default fp(async function asyncApiPlugin (fastify) {
  const document = JSON.stringify(asyncApiDocument({ publicUrl: fastify.config.PUBLIC_URL, version: '1.0.0' }))
  fastify.get('/docs/asyncapi.json', { schema: { hide: true } }, async function asyncApiJson (_request, reply) {
    return await reply.type('application/json; charset=utf-8').header('cache-control', 'public, max-age=300').send(document)
  })
}, { name: 'asyncapi', dependencies: ['config'] })
