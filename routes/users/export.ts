import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import { AccountArchiveSchema, AccountExportSchema } from '../../schemas/leaving.ts'

const CONTENTS = 'The archive holds the profile and one section per kind of record (participations with scores, score events, ' +
  'fitness samples, daily totals, flags, activity, wallet accounts and ledger entries, deposits, withdrawals, disputes, prizes, ' +
  'payout account, devices, notification settings, inbox and deliveries, provider connections, competitions, invites, ' +
  'webhook endpoints and competition series created, series subscriptions and their automatic joins, events, exports), rows as stored. Credentials are left out: push tokens (their last four ' +
  'characters say which), provider tokens, webhook secrets.'

// Exporting what the service holds about the caller: at once while small, otherwise as a job.
const exportRoutes: FastifyPluginAsyncTypebox = async function exportRoutes (fastify) {
  fastify.get('/me/export', {
    schema: {
      tags: ['users'],
      summary: 'Everything the service holds about the caller, as one JSON archive',
      description: `${CONTENTS} Past ACCOUNT_EXPORT_SYNC_MAX_ROWS records the answer is 409: ask for the archive with POST /api/v1/me/exports.`,
      response: { 200: AccountArchiveSchema, ...errorResponses(401, 409, 429) }
    }
  }, async function exportOwnAccount (request, reply) {
    const archive = await fastify.accountExports.exportNow(request.user.id)
    return await reply.header('content-disposition', 'attachment; filename="account-archive.json"').send(archive)
  })

  fastify.post('/me/exports', {
    schema: {
      tags: ['users'],
      summary: 'Ask for the caller\'s archive to be built by a job (for large accounts)',
      description: `${CONTENTS} Answers 202 with the export; collect it with GET /api/v1/me/exports/{id} once ready. ` +
        'While one is being built, asking again returns it. Archives are kept for ACCOUNT_EXPORT_TTL_SECONDS.',
      response: { 202: AccountExportSchema, ...errorResponses(401, 429) }
    }
  }, async function requestAccountExport (request, reply) {
    return await reply.code(202).send(await fastify.accountExports.request(request.user.id))
  })

  fastify.get('/me/exports/:id', {
    schema: {
      tags: ['users'],
      summary: 'An export the caller asked for: its status, and the archive once ready',
      params: IdParamsSchema,
      response: { 200: AccountExportSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getAccountExport (request) {
    return await fastify.accountExports.get(request.user.id, request.params.id)
  })
}

export default exportRoutes
