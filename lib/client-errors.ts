import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyInstance } from 'fastify'
import { STATUS_CODES } from './http-status.ts'

// What Node's HTTP parser refuses before any route, hook or request id exists. Same statuses
// as Node's own answers (431, 413, 408, otherwise 400), in the common error shape. Node has no
// URL length limit of its own: a long URL counts against the header size (431); a long path
// segment reaches the router, which answers 414 (frameworkErrors in server-options.ts).
const PARSER_ERRORS: Record<string, { statusCode: number, code: string, message: string }> = {
  HPE_HEADER_OVERFLOW: { statusCode: 431, code: 'HEADERS_TOO_LARGE', message: 'The request line and headers are too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { statusCode: 413, code: 'CHUNK_EXTENSIONS_TOO_LARGE', message: 'The chunk extensions are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time' }
}
const MALFORMED = { statusCode: 400, code: 'MALFORMED_REQUEST', message: 'The request is not valid HTTP/1.1' }

// Node's own in-flight response for a connection (its default handler reads it too).
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null }

export function clientErrorHandler (this: FastifyInstance, err: ConnectionError, socket: HttpSocket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { statusCode, code, message } = PARSER_ERRORS[err.code] ?? MALFORMED
  const requestId = randomUUID()
  this.log.info({ requestId, statusCode, err: { code: err.code, message: err.message } }, 'request refused by the HTTP parser')
  // As Node does: no answer once a response has started on this connection, it would
  // corrupt that response.
  if (socket.writable && (!socket._httpMessage || !socket._httpMessage.headersSent)) {
    const error = STATUS_CODES[statusCode] ?? 'Error'
    const body = JSON.stringify({ statusCode, code, error, message, requestId })
    socket.write(`HTTP/1.1 ${statusCode} ${error}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
