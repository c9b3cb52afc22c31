import fp from 'fastify-plugin'
import { STATUS_CODES } from '../lib/http-status.ts'
import { documentedCode } from '../lib/error-codes.ts'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  requestId: string
  details?: Array<{ field: string, message: string }>
}

// pg and ioredis failures that mean "a store is unreachable right now", not "our bug".
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006'])
// "Query read timeout" (pg) and "Command timed out" (ioredis) are the client-side timeouts that
// fire when a server stops answering without refusing (a network partition).
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Connection is closed|Stream isn't writeable|Client has encountered a connection error|Query read timeout|Command timed out/

function isStoreUnavailable (err: FastifyError & { code?: string }): boolean {
  return (err.code !== undefined && UNAVAILABLE_CODES.has(err.code)) || UNAVAILABLE_MESSAGES.test(err.message ?? '')
}

// Postgres refusing a value the schemas let through: a NUL character in text, text in the
// wrong encoding, a number, date or string out of the column's range, a malformed literal.
// That is the caller's input, so 400, never 500. pg errors carry `severity`; others do not.
const UNSTORABLE_CODES = new Set(['22021', '22P05', '22001', '22003', '22007', '22008', '22P02'])

function isUnstorableInput (err: FastifyError & { code?: string, severity?: unknown }): boolean {
  return err.code !== undefined && UNSTORABLE_CODES.has(err.code) && typeof err.severity === 'string'
}

interface FailureParams { missingProperty?: string, additionalProperty?: string, tag?: string, error?: string }

// Each failure names its field: a missing property, an unknown one and a union's
// discriminator by their own name (Ajv reports all three at the enclosing object).
function validationDetails (err: FastifyError): ErrorBody['details'] {
  return err.validation?.map((v) => {
    const { missingProperty, additionalProperty, tag, error } = v.params as FailureParams
    const base = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.')
    const field = [err.validationContext, base, missingProperty ?? additionalProperty ?? tag].filter(Boolean).join('.')
    return { field, message: failureMessage(v.keyword, v.message, additionalProperty, error) }
  })
}

function failureMessage (keyword: string, message: string | undefined, additionalProperty: string | undefined, error: string | undefined): string {
  if (additionalProperty !== undefined) return 'is not a known property'
  if (keyword === 'discriminator') return error === 'mapping' ? 'is not one of the allowed values' : 'must be string'
  return message ?? 'is invalid'
}

export function errorBody (request: FastifyRequest, statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, requestId: request.id }
}

export default fp(async function errorsPlugin (fastify) {
  fastify.setErrorHandler(function handleError (err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    if (err.validation) {
      const details = validationDetails(err)
      const first = details?.[0]
      const message = first ? `${first.field} ${first.message}` : err.message
      return reply.code(400).send({ ...errorBody(request, 400, 'VALIDATION_ERROR', message), details })
    }
    if (isStoreUnavailable(err)) {
      request.log.warn({ err }, 'a data store is unavailable')
      return reply.code(503).header('retry-after', '5')
        .send(errorBody(request, 503, 'SERVICE_UNAVAILABLE', 'A data store is temporarily unavailable, try again shortly'))
    }
    if (isUnstorableInput(err)) {
      // Warn: a schema that lets such a value through deserves tightening.
      request.log.warn({ err: { code: err.code, message: err.message } }, 'input refused by the database')
      return reply.code(400).send(errorBody(request, 400, 'UNSTORABLE_VALUE',
        'A value cannot be stored: text must not contain NUL characters, and numbers and dates must be within range'))
    }
    const statusCode = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    const code = documentedCode(statusCode, err.code)
    if (statusCode >= 500) {
      request.log.error({ err }, 'request failed')
      // Our own upstream errors (503, a gateway's 502) say what failed; anything else says nothing.
      const ours = statusCode === 503 || (statusCode !== 500 && code === err.code)
      // A Retry-After the route already set (a provider's own) is kept.
      if (statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5')
      return reply.code(statusCode).send(errorBody(request, statusCode, ours ? code : 'INTERNAL_ERROR', ours ? err.message : 'Something went wrong on our side'))
    }
    request.log.info({ err: { code: err.code, message: err.message } }, 'request rejected')
    return reply.code(statusCode).send(errorBody(request, statusCode, code, err.message))
  })

  fastify.setNotFoundHandler(function handleNotFound (request, reply) {
    return reply.code(404).send(errorBody(request, 404, 'NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`))
  })
}, { name: 'errors' })
