import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, PageSchema, UserIdParamsSchema } from '../schemas/common.ts'
import {
  DEVICE_PRIORITY_RULE, FlagIdParamsSchema, FlagListQuerySchema, FlagResolutionSchema, FlagSchema, MAX_RECORD_SPAN_HOURS, SAMPLE_CLOCK_SKEW_MINUTES,
  StatsQuerySchema, StatsSchema, SyncBodySchema, SyncResultSchema
} from '../schemas/fitness.ts'

const SYNC_DESCRIPTION = `Ingests one source's records for the caller, or pulls from a provider.

* **Batch**: at most the configured number of records (samples plus deletions). The batch is all-or-nothing:
  an invalid record rejects it with 400 naming the record (\`body.samples.3.value\`) and nothing is written.
* **Exactly once**: a record is identified by (user, source, externalId). A higher \`version\` replaces it,
  an equal or lower one is ignored; deletions by externalId remove its contribution. Replaying, reordering
  or sending a batch twice at once gives the same totals and scores, so no Idempotency-Key is needed.
* **Clock skew**: device clocks drift, so a record may start up to ${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead of the server's clock, and a
  \`sample\` may end up to ${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead (a \`daily_total\` may end later: its day is still running). Further ahead is 400.
  A record spans at most ${MAX_RECORD_SPAN_HOURS} hours.
* **Local day**: startTime plus tzOffsetMinutes. Daily totals and stats count a record on that day.
* **Overlapping sources**: per local day and metric, the maximum across sources counts (a phone and a watch
  recording the same walk are not added); within one source, the larger of its samples' sum and its own daily total.
* **Devices within one source**: HealthKit and Health Connect report a phone and a watch under one source, so send each
  sample's \`device\` (type and a stable id). ${DEVICE_PRIORITY_RULE} A 150-step phone record and a 140-step watch record
  of the same minutes count 140, not 290. Alternatively send a statistics query's deduplicated totals as \`daily_total\` records.
* **Competitions**: every active competition (or one in its grace period) with the record's metric that the caller
  is in is recomputed from stored data over its window and pushed to the leaderboard (live update included). Each record,
  a \`daily_total\` included, is **clipped to the window** (only its part between startsAt and endsAt counts) and **spread
  over the competition's local days** in proportion to the time it covers in each (days in the competition's time zone):
  a walk from 23:30 to 00:30 gives half to each day, and a daily total of a device at UTC+1 gives 1/24 of itself to the
  previous day of a UTC competition. A record of zero length counts at its start. Per day, sources combine as above.
  Manual records count only where the competition allows manual entries. Data arriving after the grace period is stored
  but no longer moves it.
* **Anti-cheat**: more than the configured steps per minute, a daily total above the configured ceiling, or an
  impossible speed flags the record and holds the participant out of prizes until an admin clears the flag.
* **Provider pull (deprecated)**: \`{ "provider": "google_fit", "accessToken": "..." }\` (or a stored token) fetches the days not yet
  pulled. Google closed Google Fit sign-ups in 2024 and is shutting its APIs down; it stays behind GOOGLE_FIT_ENABLED for
  existing users. A pull fetches per-day totals, with timeouts, retries with backoff honouring Retry-After, and a circuit
  breaker: while the provider keeps failing, calls fail fast with 503 and Retry-After. Fitbit, Garmin, Strava and Oura are
  connected once with OAuth (\`/users/{userId}/connections/{provider}\`) and their data arrives by webhooks and jobs.`

const fitnessRoutes: FastifyPluginAsyncTypebox = async function fitnessRoutes (fastify) {
  // Signed in, then each route's rule, both on request: a refusal comes before validation.
  fastify.addHook('onRequest', fastify.authenticate)
  const adminOnly = fastify.authorize.admin('Admins only')

  fastify.post('/fitness/sync', {
    schema: {
      tags: ['fitness'],
      summary: 'Sync fitness data (device push or provider pull)',
      description: SYNC_DESCRIPTION,
      body: SyncBodySchema(fastify.config.FITNESS_SYNC_BATCH_MAX),
      response: { 200: SyncResultSchema, ...errorResponses(400, 401, 409, 413, 422, 429, 503) }
    }
  }, async function syncFitness (request, reply) {
    try {
      return await fastify.fitness.sync(request.user, request.body)
    } catch (err) {
      // Provider outages tell the client when to come back.
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
      throw err
    }
  })

  fastify.get('/fitness/stats/:userId', {
    onRequest: fastify.authorize.selfOrAdmin('You can only read your own fitness data'),
    schema: {
      tags: ['fitness'],
      summary: 'Daily, weekly and monthly totals, streaks and personal bests',
      description: 'Own data or admin only. Days are the user\'s local days; sources are combined per day by taking the maximum.',
      params: UserIdParamsSchema,
      querystring: StatsQuerySchema,
      response: { 200: StatsSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function getFitnessStats (request) {
    return await fastify.fitness.stats(request.params.userId.toLowerCase(), request.query)
  })

  fastify.get('/admin/flags', {
    onRequest: adminOnly,
    schema: {
      tags: ['admin', 'fitness'],
      summary: 'Anti-cheat flags to review (oldest first)',
      querystring: FlagListQuerySchema,
      response: { 200: PageSchema(FlagSchema), ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listFitnessFlags (request) {
    return await fastify.fitness.listFlags(request.query)
  })

  const resolution = (summary: string, description: string) => ({
    onRequest: adminOnly,
    schema: {
      tags: ['admin', 'fitness'],
      summary,
      description,
      params: FlagIdParamsSchema,
      body: Type.Optional(FlagResolutionSchema),
      response: { 200: FlagSchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
    }
  })

  fastify.post('/admin/flags/:id/clear', resolution('Clear a flag (the data is plausible)',
    'The record keeps counting; the participant is released from the prize hold once no open or confirmed flag holds them. ' +
    'Clearing again returns the flag unchanged; clearing a confirmed flag is 409.'),
  async function clearFitnessFlag (request) {
    return await fastify.fitness.clearFlag(request.user, request.params.id, request.body?.note)
  })

  fastify.post('/admin/flags/:id/confirm', resolution('Confirm a flag (the data is not plausible)',
    'The flagged record stops counting: daily totals and running competitions are recomputed and the leaderboard moves. ' +
    'The participant stays held out of those competitions\' prizes. Confirming again returns the flag unchanged; confirming a cleared flag is 409.'),
  async function confirmFitnessFlag (request) {
    return await fastify.fitness.confirmFlag(request.user, request.params.id, request.body?.note)
  })
}

export default fitnessRoutes
