import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, IdParamsSchema, PageQuerySchema } from '../../schemas/common.ts'
import { DeadJobsPageSchema, QueueStateSchema } from '../../schemas/jobs.ts'
import { errors } from '../../lib/errors.ts'

// Operators' view of the job queue: how deep each queue is, and the jobs that used up their
// retries (dead letters), which an admin retries once the cause is fixed.
const jobsRoutes: FastifyPluginAsyncTypebox = async function jobsRoutes (fastify) {
  fastify.get('/admin/jobs', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['admin'],
      summary: 'Every job queue with its waiting, deferred and running jobs (admins)',
      response: { 200: Type.Object({ queues: Type.Array(QueueStateSchema) }, { additionalProperties: false }), ...errorResponses(401, 403, 429) }
    }
  }, async function listJobQueues () {
    return { queues: await fastify.jobOperations.queues() }
  })

  fastify.get('/admin/jobs/dead', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['admin'],
      summary: 'Jobs that failed every retry, oldest first (admins)',
      querystring: PageQuerySchema,
      response: { 200: DeadJobsPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listDeadJobs (request) {
    const { limit = 20, cursor } = request.query
    return await fastify.jobOperations.deadJobs(limit, cursor)
  })

  fastify.post('/admin/jobs/dead/:id/retry', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['admin'],
      summary: 'Send a dead job back to its queue for another round of retries (admins)',
      params: IdParamsSchema,
      response: { 202: Type.Object({ retried: Type.Literal(true) }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function retryDeadJob (request, reply) {
    if (!await fastify.jobOperations.retryDeadJob(request.params.id)) throw errors.NotFound('No dead job with this id')
    return await reply.code(202).send({ retried: true })
  })
}

export default jobsRoutes
