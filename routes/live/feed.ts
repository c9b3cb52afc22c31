import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCodes } from '../../schemas/realtime.ts'
import { isUuid } from '../../lib/uuid.ts'

interface Admission {
  code: number
  reason: string
}

interface SocketQuery {
  seq?: number
  limit: number
  k: number
}

const DIGITS = /^\d{1,16}$/

// Optional integer query value within bounds; null when invalid.
function intParam (value: unknown, fallback: number | undefined, max: number): number | undefined | null {
  if (value === undefined || value === '') return fallback
  if (typeof value !== 'string' || !DIGITS.test(value)) return null
  const n = Number(value)
  return n <= max ? n : null
}

function parseQuery (query: Record<string, unknown>): SocketQuery | null {
  const seq = intParam(query.seq, undefined, Number.MAX_SAFE_INTEGER)
  const limit = intParam(query.limit, 50, 100)
  const k = intParam(query.k, 5, 50)
  if (seq === null || limit == null || limit < 1 || k == null) return null
  return { seq, limit, k }
}

// WS /ws/leaderboard/:competitionId?token=JWT[&seq=n][&limit=N][&k=K] (protocol in
// schemas/realtime.ts). The token and the competition are checked in hooks, before the
// upgrade completes; a refused connection is closed with a 44xx code and a reason before
// any data frame (browsers cannot read an HTTP status from a failed upgrade).
const feedRoutes: FastifyPluginAsync = async function feedRoutes (fastify) {
  const refused = new WeakMap<FastifyRequest, Admission>()
  const accepted = new WeakMap<FastifyRequest, { competitionId: string, query: SocketQuery, response: ServerResponse }>()

  // One listener shared by every socket. @fastify/websocket's own error listener is a closure
  // over the upgrade's Fastify request and reply, which would keep them (the raw request, the
  // response, a child logger: several KB) alive for as long as the socket is open. The same
  // behaviour: the error is logged and the socket terminated.
  function onSocketError (this: WebSocket, err: Error): void {
    fastify.log.error({ err }, 'live feed socket error')
    this.terminate()
  }

  // The same authentication as every HTTP route (which also provisions the caller's users
  // row and counts a refusal against the caller's address); its refusals become close codes.
  async function admitToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await fastify.authenticate(request, reply)
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode
      refused.set(request, status === 401
        ? { code: CloseCodes.UNAUTHORIZED, reason: 'Invalid or expired token' }
        : { code: CloseCodes.TRY_AGAIN_LATER, reason: status === 429 ? 'Too many refused connections, retry later' : 'Try again shortly' })
    }
  }

  async function admitCompetition (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (refused.has(request)) return
    const { competitionId } = request.params as { competitionId: string }
    const query = parseQuery(request.query as Record<string, unknown>)
    if (!query) {
      refused.set(request, { code: CloseCodes.BAD_REQUEST, reason: 'seq, limit (1-100) and k (0-50) must be integers' })
      return
    }
    try {
      if (!isUuid(competitionId) || await fastify.leaderboard.access(competitionId.toLowerCase(), request.user) !== 'ok') {
        refused.set(request, { code: CloseCodes.NOT_FOUND, reason: 'Competition not found' })
        return
      }
    } catch (err) {
      request.log.warn({ err }, 'live feed admission failed')
      refused.set(request, { code: CloseCodes.TRY_AGAIN_LATER, reason: 'Try again shortly' })
      return
    }
    accepted.set(request, { competitionId: competitionId.toLowerCase(), query, response: reply.raw })
  }

  fastify.get('/ws/leaderboard/:competitionId', {
    websocket: true,
    onRequest: admitToken,
    preHandler: admitCompetition,
    schema: {
      tags: ['leaderboard'],
      summary: 'Live leaderboard over WebSocket (snapshot, then coalesced updates with sequence numbers; resume with seq)'
    }
  }, async function leaderboardSocket (socket, request) {
    socket.removeAllListeners('error')
    socket.on('error', onSocketError)
    const refusal = refused.get(request)
    const admission = accepted.get(request)
    if (refusal || !admission) {
      socket.close(refusal?.code ?? CloseCodes.BAD_REQUEST, refusal?.reason ?? 'Refused')
      return
    }
    // The upgrade's response object stays attached to the TCP socket (and through it the raw
    // request) until detached; the WebSocket never writes through it.
    const { response } = admission
    if (response.socket) response.detachSocket(response.socket)
    await fastify.broadcaster.connect(socket, {
      competitionId: admission.competitionId,
      userId: request.user.id,
      source: fastify.leaderboard.feed,
      limit: admission.query.limit,
      k: admission.query.k,
      resumeSeq: admission.query.seq
    })
  })
}

export default feedRoutes
