import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../../schemas/common.ts'
import { CallbackQuerySchema, CallbackResultSchema, ProviderParamsSchema } from '../../schemas/connections.ts'

// The provider's redirect after the user granted (or refused) access. Open: the browser that
// arrives here carries no token of ours; the single-use state binds it to the user who began.
const providerCallbackRoutes: FastifyPluginAsyncTypebox = async function providerCallbackRoutes (fastify) {
  const returnUrl = fastify.config.PROVIDER_CONNECT_RETURN_URL

  fastify.get('/connections/:provider/callback', {
    schema: {
      tags: ['connections'],
      summary: 'OAuth redirect target (the provider sends the user\'s browser here)',
      description: 'Register `{PUBLIC_URL}/api/v1/connections/{provider}/callback` as the redirect URI at each provider. ' +
        'The state is taken once; the code is exchanged with its PKCE verifier. With PROVIDER_CONNECT_RETURN_URL set, ' +
        'the browser is sent on there (303) with `provider`, `status` and `reason`; otherwise the result is answered as JSON.',
      params: ProviderParamsSchema,
      querystring: CallbackQuerySchema,
      response: { 200: CallbackResultSchema, ...errorResponses(400, 404, 429, 502, 503) }
    }
  }, async function providerCallback (request, reply) {
    const result = await fastify.connections.complete(request.params.provider, request.query)
    if (returnUrl === '') return result
    const target = new URL(returnUrl)
    for (const [key, value] of Object.entries(result)) target.searchParams.set(key, String(value))
    return await reply.redirect(target.toString(), 303)
  })
}

export default providerCallbackRoutes
