import type { FastifyReply } from 'fastify'

// Sends an answer stored under an Idempotency-Key (services/shared/stored-responses.ts): the
// first answer's status and body, marked when it is a replay of an earlier request.
export async function sendStored<T> (reply: FastifyReply, result: { statusCode: number, body: T, replayed: boolean }): Promise<FastifyReply> {
  if (result.replayed) reply.header('idempotent-replayed', 'true')
  return await reply.code(result.statusCode).send(result.body)
}
