import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { LogController, type FastifyServerOptions } from 'fastify'
import type { Config } from '../schemas/env.ts'

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

// A caller's x-request-id is kept when it is safe to log and echo; otherwise we mint one.
function requestId (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
}

// Shared by server.ts and the test helper, so tests run the same server settings.
export function serverOptions (config: Pick<Config, 'LOG_LEVEL'>): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'],
      ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {})
    },
    genReqId: requestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: true,
    pluginTimeout: 60_000,
    return503OnClosing: true,
    ajv: {
      customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true }
    }
  }
}
