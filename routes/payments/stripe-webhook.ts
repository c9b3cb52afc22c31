import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../../schemas/common.ts'
import { HANDLED_STRIPE_EVENTS, StripeWebhookReplySchema } from '../../schemas/payments.ts'

// Stripe's event deliveries. Open (Stripe holds no token): the signature over the raw body is
// the authentication, so this plugin keeps JSON bodies as bytes.
const stripeWebhookRoutes: FastifyPluginAsyncTypebox = async function stripeWebhookRoutes (fastify) {
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, function keepRawBody (_request, body, done) {
    done(null, body)
  })

  fastify.post('/payments/stripe/webhook', {
    schema: {
      tags: ['payments'],
      summary: 'Stripe events (signed with Stripe-Signature); each event id is acted on once',
      description: `Point the Stripe dashboard's webhook endpoint (and the Connect endpoint) here with these events: ${HANDLED_STRIPE_EVENTS.join(', ')}. ` +
        'A bad or stale signature is refused with 400; a redelivered event is acknowledged and changes nothing.',
      headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String({ maxLength: 2000 })) }),
      response: { 200: StripeWebhookReplySchema, ...errorResponses(400, 413, 415, 429, 503) }
    }
  }, async function receiveStripeEvent (request) {
    const { duplicate } = await fastify.payments!.stripeEvents.receive(request.body as Buffer, request.headers['stripe-signature'])
    return { received: true, duplicate }
  })
}

export default stripeWebhookRoutes
