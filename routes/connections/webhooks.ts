import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../../schemas/common.ts'
import { ProviderParamsSchema } from '../../schemas/connections.ts'

const WEBHOOK_DESCRIPTION = `Point each provider's webhook (subscriber) URL here. Verified as the provider documents, answered at once,
the work done by durable jobs:

* **fitbit**: the subscriber verification GET (\`verify\`: 204 for FITBIT_VERIFICATION_CODE, 404 otherwise); notifications
  signed with \`X-Fitbit-Signature\` (HMAC-SHA1 with the client secret), a bad signature is answered 404 as Fitbit asks.
* **garmin**: Health API push (summaries in the body) or ping (callback URLs, fetched only from GARMIN_API_URL); an
  unknown \`userId\` is acknowledged and dropped.
* **strava**: the subscription validation GET (\`hub.verify_token\` must be STRAVA_VERIFY_TOKEN; \`hub.challenge\` is echoed);
  events must carry our STRAVA_SUBSCRIPTION_ID, and the activity itself is read from Strava's API.
* **oura**: the verification GET (\`verification_token\` must be OURA_VERIFICATION_TOKEN; \`challenge\` is echoed);
  notifications signed with \`x-oura-signature\` over \`x-oura-timestamp\` and the body (HMAC-SHA256 with the client secret).

A replayed notification is counted once: records are keyed by (user, source, external id) with a version.`

const handshakeParam = (description: string, example: string) => Type.Optional(Type.String({ maxLength: 2000, description, examples: [example] }))

// The providers' handshake parameters; anything else they add is ignored.
const HandshakeQuerySchema = Type.Object({
  verify: handshakeParam('Fitbit: the subscriber verification code', 'f2c1a9d4e5b6'),
  'hub.mode': handshakeParam('Strava: always subscribe', 'subscribe'),
  'hub.challenge': handshakeParam('Strava: echoed back', '15f7d1a91c1f40f8a748fd134752feb3'),
  'hub.verify_token': handshakeParam('Strava: must be STRAVA_VERIFY_TOKEN', 'STRAVA'),
  verification_token: handshakeParam('Oura: must be OURA_VERIFICATION_TOKEN', 'oura-verify'),
  challenge: handshakeParam('Oura: echoed back', 'a7d3c1')
})

// Inbound webhooks of the cloud fitness providers. Open: the providers hold no token of ours;
// each one's signature or verification token is the authentication. Bodies stay bytes, since
// signatures are over the bytes as sent.
const providerWebhookRoutes: FastifyPluginAsyncTypebox = async function providerWebhookRoutes (fastify) {
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, function keepRawBody (_request, body, done) {
    done(null, body)
  })

  const schema = (summary: string) => ({
    tags: ['connections'],
    summary,
    description: WEBHOOK_DESCRIPTION,
    params: ProviderParamsSchema,
    querystring: HandshakeQuerySchema,
    response: {
      200: Type.Unknown({ description: 'A handshake\'s answer (the challenge echoed as the provider asks), or empty', examples: [{ 'hub.challenge': '15f7d1a91c1f40f8a748fd134752feb3' }] }),
      204: Type.Null(),
      ...errorResponses(400, 401, 403, 404, 413, 429)
    }
  })

  fastify.get('/connections/:provider/webhook', { schema: schema('Provider webhook verification (subscription handshake)') },
    async function verifyProviderWebhook (request, reply) {
      const answer = await fastify.connections.receiveWebhook(request.params.provider, {
        method: 'GET', query: request.query as Record<string, string | undefined>, headers: request.headers as Record<string, string | undefined>, body: Buffer.alloc(0)
      })
      return await reply.code(answer.status).send(answer.body ?? null)
    })

  fastify.post('/connections/:provider/webhook', { schema: schema('Provider webhook notifications') },
    async function receiveProviderWebhook (request, reply) {
      const answer = await fastify.connections.receiveWebhook(request.params.provider, {
        method: 'POST',
        query: request.query,
        headers: request.headers as Record<string, string | undefined>,
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      })
      return await reply.code(answer.status).send(answer.body ?? null)
    })
}

export default providerWebhookRoutes
