import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, UserIdParamsSchema } from '../../schemas/common.ts'
import { AccountDeletionRequestSchema, AccountDeletionSchema, AdminAccountDeletionRequestSchema } from '../../schemas/leaving.ts'

const RETENTION = 'Personal data is deleted: profile (name, email, username, bio, phone, avatar file), push devices, ' +
  'notification settings and inbox, provider connections and their tokens (revoked at the provider when it answers), ' +
  'fitness samples, daily totals and flags, the activity feed, payout account and exports. The account stays as a ' +
  'pseudonym ("Deleted user") in what other people\'s results and the ledger need: participations and score history, ' +
  'prize results, wallet accounts and ledger entries, deposits and withdrawals (kept as bookkeeping records). ' +
  'Its tokens are refused with 401 afterwards.'

// Deleting an account: by the user (in the app, as the stores require) or by an admin.
const leavingRoutes: FastifyPluginAsyncTypebox = async function leavingRoutes (fastify) {
  fastify.delete('/me', {
    schema: {
      tags: ['users'],
      summary: 'Delete the caller\'s account',
      description: `${RETENTION} Refused with 409, saying what to do, while the wallet holds money that can be withdrawn, ` +
        'a withdrawal or payment dispute is open, or the caller takes part in a competition that is not over; ' +
        'promotional credit, which cannot be withdrawn, does not stop it. A repeated request changes nothing.',
      body: AccountDeletionRequestSchema,
      response: { 200: AccountDeletionSchema, ...errorResponses(400, 401, 409, 413, 429) }
    }
  }, async function deleteOwnAccount (request) {
    return await fastify.accountDeletion.deleteAccount(request.user.id, { origin: 'self', force: false })
  })

  fastify.delete('/admin/users/:userId', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['admin'],
      summary: 'Delete a user\'s account (admins)',
      description: `${RETENTION} Refused with 409 in the same cases as the user's own deletion unless \`force\` is set; ` +
        'a forced deletion first leaves competitions that have not started (fees refunded) and leaves what the wallet then ' +
        'holds in it, in the ledger, for operators to settle; in a running competition the participation stays, its score as it was.',
      params: UserIdParamsSchema,
      body: AdminAccountDeletionRequestSchema,
      response: { 200: AccountDeletionSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 429) }
    }
  }, async function deleteUserAccount (request) {
    return await fastify.accountDeletion.deleteAccount(fastify.authorize.targetUserId(request), { origin: 'admin', force: request.body.force === true })
  })
}

export default leavingRoutes
