import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema } from '../schemas/common.ts'

const CheckSchema = Type.Object({
  ok: Type.Boolean(),
  mode: Type.Union([Type.Literal('external'), Type.Literal('embedded')]),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String())
}, { title: 'StoreCheck' })

const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  // 'embedded' when this instance runs on the embedded PostgreSQL and the in-process Redis stand-in.
  mode: Type.Union([Type.Literal('production'), Type.Literal('embedded'), Type.Literal('mixed')]),
  message: Type.Optional(Type.String()),
  checks: Type.Object({ postgres: CheckSchema, redis: CheckSchema })
}, { title: 'Readiness' })

const CHECK_TIMEOUT_MS = 2000

async function timed (check: () => Promise<unknown>): Promise<{ ok: boolean, latencyMs: number, error?: string }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      check(),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS) })
    ])
    return { ok: true, latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message || 'unreachable' }
  } finally {
    clearTimeout(timer)
  }
}

const healthRoutes: FastifyPluginAsyncTypebox = async function healthRoutes (fastify) {
  fastify.get('/health', {
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process is up',
      security: [],
      response: { 200: Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }) }
    },
    config: { rateLimit: false }
  }, async function liveness () {
    return { status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }
  })

  fastify.get('/health/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness: Postgres and Redis answer',
      security: [],
      // 503 is either a failed check or load shedding (the common error shape).
      response: { 200: ReadySchema, 503: Type.Union([ReadySchema, ErrorSchema]) }
    },
    config: { rateLimit: false }
  }, async function readiness (_request, reply) {
    const [postgres, redis] = await Promise.all([
      timed(async () => await fastify.pg.query('SELECT 1')),
      timed(async () => await fastify.redis.ping())
    ])
    const failing = [!postgres.ok && 'postgres', !redis.ok && 'redis'].filter(Boolean)
    const embedded = [fastify.postgresMode, fastify.redisMode].filter((m) => m === 'embedded').length
    const body = {
      status: failing.length === 0 ? 'ok' as const : 'unavailable' as const,
      mode: embedded === 2 ? 'embedded' as const : embedded === 0 ? 'production' as const : 'mixed' as const,
      ...(failing.length > 0 ? { message: `${failing.join(' and ')} unavailable` } : {}),
      checks: {
        postgres: { ...postgres, mode: fastify.postgresMode },
        redis: { ...redis, mode: fastify.redisMode }
      }
    }
    return await reply.code(failing.length === 0 ? 200 : 503).send(body)
  })
}

export default healthRoutes
