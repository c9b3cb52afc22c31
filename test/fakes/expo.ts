// A local fake of Expo's push service: POST /--/api/v2/push/send answers { data: [ticket...] }
// in the order of the messages (a ticket is { status: 'ok', id } or { status: 'error', message,
// details: { error, expoPushToken } }), POST /--/api/v2/push/getReceipts answers
// { data: { [id]: receipt } }, and request-level failures are { errors: [{ code, message }] }
// with their HTTP status. Bodies may come gzipped, as the SDK sends large ones. Tests make a
// token fail in its ticket or later in its receipt, or the whole request fail.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { listenLocal, readBody, replyJson } from './http.ts'

export type ExpoTicketFailure = 'DeviceNotRegistered' | 'MessageTooBig' | 'MessageRateExceeded' | 'InvalidCredentials' | 'MismatchSenderId'
export type ExpoRequestFailure = 'rate-limited' | 'server-error' | 'connection-reset'

export interface ExpoPush { ticketId: string, to: string, title: string | undefined, body: string | undefined, data: Record<string, unknown>, priority: string | undefined }

export interface FakeExpo {
  url: string
  sent: ExpoPush[]
  sendRequests: number
  // Messages in each send request, in order of arrival.
  requestSizes: number[]
  receiptRequests: number
  // The token fails in its ticket (at send time).
  failTicket: (token: string, error: ExpoTicketFailure) => void
  // The token is accepted, and its receipt later says DeviceNotRegistered.
  unregisterLater: (token: string) => void
  // The next `times` send requests fail as a whole.
  failRequests: (failure: ExpoRequestFailure, times: number) => void
  clearFailures: () => void
  close: () => Promise<void>
}

const TOKEN = /^Expo(nent)?PushToken\[[^\]]+\]$/

async function readJson (req: IncomingMessage): Promise<unknown> {
  return JSON.parse(await readBody(req))
}

const reply = replyJson

export async function startFakeExpo (): Promise<FakeExpo> {
  const ticketFailures = new Map<string, ExpoTicketFailure>()
  const laterUnregistered = new Set<string>()
  const receipts = new Map<string, unknown>()
  const sent: ExpoPush[] = []
  let requestFailure: { failure: ExpoRequestFailure, times: number } | null = null
  let sendRequests = 0
  const requestSizes: number[] = []
  let receiptRequests = 0

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url === '/--/api/v2/push/send') {
      sendRequests++
      if (requestFailure !== null && requestFailure.times > 0) {
        requestFailure.times--
        // The connection drops before any answer: the sender cannot tell whether Expo took it.
        if (requestFailure.failure === 'connection-reset') {
          req.socket.destroy()
          return
        }
        return requestFailure.failure === 'rate-limited'
          ? reply(res, 429, { errors: [{ code: 'TOO_MANY_REQUESTS', message: 'Too many requests' }] })
          : reply(res, 503, { errors: [{ code: 'INTERNAL_SERVER_ERROR', message: 'An unknown error occurred.' }] })
      }
      const body = await readJson(req)
      const messages = (Array.isArray(body) ? body : [body]) as Array<{ to: string, title?: string, body?: string, data?: Record<string, unknown>, priority?: string }>
      requestSizes.push(messages.length)
      if (messages.length > 100) return reply(res, 400, { errors: [{ code: 'PUSH_TOO_MANY_NOTIFICATIONS', message: 'You are trying to send more than 100 push notifications in one request' }] })
      const tickets = messages.map((m) => {
        if (!TOKEN.test(m.to)) {
          return { status: 'error', message: `"${m.to}" is not a valid Expo push token`, details: { error: 'DeviceNotRegistered', expoPushToken: m.to } }
        }
        const failure = ticketFailures.get(m.to)
        if (failure !== undefined) return { status: 'error', message: `Expo refused the message: ${failure}`, details: { error: failure, expoPushToken: m.to } }
        const id = randomUUID()
        sent.push({ ticketId: id, to: m.to, title: m.title, body: m.body, data: m.data ?? {}, priority: m.priority })
        receipts.set(id, laterUnregistered.has(m.to)
          ? { status: 'error', message: `"${m.to}" is not a registered push notification recipient`, details: { error: 'DeviceNotRegistered', expoPushToken: m.to } }
          : { status: 'ok' })
        return { status: 'ok', id }
      })
      return reply(res, 200, { data: tickets })
    }
    if (req.method === 'POST' && req.url === '/--/api/v2/push/getReceipts') {
      receiptRequests++
      const { ids } = await readJson(req) as { ids?: string[] }
      if (!Array.isArray(ids)) return reply(res, 400, { errors: [{ code: 'VALIDATION_ERROR', message: '"ids" is required' }] })
      return reply(res, 200, { data: Object.fromEntries(ids.filter((id) => receipts.has(id)).map((id) => [id, receipts.get(id)])) })
    }
    reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'Not found' }] })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { if (!res.headersSent) reply(res, 500, { errors: [{ code: 'INTERNAL_SERVER_ERROR', message: String(err) }] }) })
  })
  const { url, close } = await listenLocal(server)
  return {
    url,
    sent,
    get sendRequests () { return sendRequests },
    requestSizes,
    get receiptRequests () { return receiptRequests },
    failTicket (token, error) { ticketFailures.set(token, error) },
    unregisterLater (token) { laterUnregistered.add(token) },
    failRequests (failure, times) { requestFailure = { failure, times } },
    clearFailures () { ticketFailures.clear(); laterUnregistered.clear(); requestFailure = null },
    close
  }
}
