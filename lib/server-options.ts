import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from './http-status.ts'
import { LogController, type FastifyError, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config } from '../schemas/env.ts'
import { finiteNumbers } from './finite-numbers.ts'

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

// A caller's x-request-id is kept when it is safe to log and echo; otherwise we mint one.
function requestId (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
}

// Errors raised by the router before any route or hook runs (a malformed URL, a path segment
// longer than maxParamLength): the same error shape as every other error, without echoing
// the URL back.
function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = error.statusCode ?? 400
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is too long' : 'The URL is malformed'
  reply.code(statusCode).header('x-request-id', request.id)
    .send({ statusCode, code: error.code ?? 'BAD_REQUEST', error: STATUS_CODES[statusCode] ?? 'Error', message, requestId: request.id })
}

// Browsers cannot set headers on a WebSocket upgrade, so tokens travel in the query string
// (the realtime route, the live page's development link): request logs never show them.
const TOKEN_IN_QUERY = /([?&](?:access_)?token=)[^&#]*/gi

function requestForLog (req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url.replace(TOKEN_IN_QUERY, '$1[Redacted]'),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  }
}

// Shared by server.ts and the test helper, so tests run the same server settings.
export function serverOptions (config: Pick<Config, 'LOG_LEVEL'>): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'],
      serializers: { req: requestForLog },
      ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {})
    },
    genReqId: requestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: true,
    pluginTimeout: 60_000,
    return503OnClosing: true,
    frameworkErrors,
    ajv: {
      customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true },
      plugins: [finiteNumbers]
    }
  }
}
