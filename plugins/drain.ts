import fp from 'fastify-plugin'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { errorBody } from './errors.ts'

// Node's own in-flight response for a connection (server.closeIdleConnections() reads it too).
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null }

// On close, Node's server.close() ends the connections idle between two requests, and
// waits for every other one: a connection that has not sent a request yet waits for its
// client, and one whose request is in flight is kept alive by its response until the
// keep-alive timeout, long after the shutdown deadline. So, once draining:
// - a connection that has not sent a byte is closed at once;
// - a response in flight says `Connection: close`, so its connection ends with it;
// - a request that still arrives (one whose headers were arriving) is refused with 503 in
//   the common error shape, and its connection closed.
// Connections are tracked as they open, not per request, to keep the request path free.
export default fp(async function drainPlugin (fastify) {
  let draining = false
  const sockets = new Set<HttpSocket>()

  fastify.server.on('connection', function trackConnection (socket: HttpSocket) {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  function endWithResponse (response: ServerResponse): void {
    if (!response.headersSent) response.setHeader('connection', 'close')
    // A response already streaming keeps its connection alive: close it once it is done.
    else response.once('finish', () => fastify.server.closeIdleConnections())
  }

  fastify.addHook('preClose', function startDraining (done) {
    draining = true
    for (const socket of sockets) {
      const response = socket._httpMessage
      if (response && !response.writableFinished) endWithResponse(response)
      else if (socket.bytesRead === 0) socket.destroy()
    }
    done()
  })

  fastify.addHook('onRequest', function refuseWhileDraining (request, reply, done) {
    if (!draining) return done()
    request.log.info('refused: the server is shutting down')
    reply.code(503).header('x-request-id', request.id).header('connection', 'close').header('retry-after', '1')
      .send(errorBody(request, 503, 'SHUTTING_DOWN', 'The server is shutting down: send the request again'))
  })
}, { name: 'drain' })
