import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../schemas/common.ts'
import { SupabaseAuthEventReplySchema } from '../schemas/leaving.ts'

// Supabase Auth reaching the service: a Database Webhook on auth.users (DELETE) posts the
// deleted row here, and the account is deleted as an admin's forced deletion would. Open (Supabase
// holds no token of ours): the shared secret header is the authentication.
const authWebhookRoutes: FastifyPluginAsyncTypebox = async function authWebhookRoutes (fastify) {
  fastify.post('/auth/supabase/webhook', {
    schema: {
      tags: ['users'],
      summary: 'Supabase Auth user deletions (Database Webhook on auth.users, authenticated by X-Webhook-Secret)',
      description: 'Create a Database Webhook on the table auth.users for DELETE events, POST to this URL, with the header ' +
        'X-Webhook-Secret set to SUPABASE_AUTH_WEBHOOK_SECRET. The body is the webhook\'s payload ' +
        '(`{"type":"DELETE","table":"users","schema":"auth","record":null,"old_record":{"id":"…",…}}`); the account whose id is ' +
        'old_record.id is deleted (forced: the identity is already gone). Other events, and users the service never saw, are ' +
        'acknowledged and change nothing; a repeated delivery changes nothing. A missing or wrong secret is 401.',
      headers: Type.Object({ 'x-webhook-secret': Type.Optional(Type.String({ maxLength: 500 })) }),
      response: { 200: SupabaseAuthEventReplySchema, ...errorResponses(400, 401, 413, 429) }
    }
  }, async function receiveSupabaseAuthEvent (request) {
    return { received: true as const, deletion: await fastify.authEvents.receive(request.headers['x-webhook-secret'], request.body) }
  })
}

export default authWebhookRoutes
