// A local fake of SendGrid's v3 mail/send. The real @sendgrid/mail posts here with a Bearer API
// key and reads SendGrid's answers back: 202 with an X-Message-Id header, or
// { errors: [{ message, field, help }] } with 400/401/403/413, 429 with X-RateLimit-Reset, 5xx. Tests make
// an address fail through `failAddress`.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { listenLocal, readBody } from './http.ts'

export type SendgridFailure =
  | 'bad-request' // 400: not a valid address
  | 'forbidden' // 403: the from address is not a verified sender identity
  | 'payload-too-large' // 413
  | 'rate-limited' // 429 with X-RateLimit-Reset
  | 'server-error' // 503

export interface SendgridMail { messageId: string, to: string, from: string, subject: string, text: string, html: string }

export interface FakeSendgrid {
  url: string
  apiKey: string
  sent: SendgridMail[]
  requests: number
  failAddress: (to: string, failure: SendgridFailure, opts?: { retryAfterSeconds?: number }) => void
  clearFailures: () => void
  close: () => Promise<void>
}

interface MailBody {
  personalizations?: Array<{ to?: Array<{ email?: string }> }>
  from?: { email?: string, name?: string }
  subject?: string
  content?: Array<{ type?: string, value?: string }>
}

function errors (res: ServerResponse, status: number, list: Array<{ message: string, field?: string | null }>, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify({ errors: list.map((e) => ({ message: e.message, field: e.field ?? null, help: null })) }))
}

export async function startFakeSendgrid (): Promise<FakeSendgrid> {
  const apiKey = `SG.${randomBytes(11).toString('base64url')}.${randomBytes(32).toString('base64url')}`
  const failures = new Map<string, { failure: SendgridFailure, retryAfterSeconds: number }>()
  const sent: SendgridMail[] = []
  let requests = 0

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++
    if (req.method !== 'POST' || req.url !== '/v3/mail/send') return errors(res, 404, [{ message: 'not found' }])
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return errors(res, 401, [{ message: 'The provided authorization grant is invalid, expired, or revoked' }])
    }
    let body: MailBody
    try { body = JSON.parse(await readBody(req)) as MailBody } catch { return errors(res, 400, [{ message: 'Bad Request' }]) }
    const to = body.personalizations?.[0]?.to?.[0]?.email
    if (to === undefined) return errors(res, 400, [{ message: 'The to array is required for all personalization objects.', field: 'personalizations.0.to' }])
    if (body.from?.email === undefined) return errors(res, 400, [{ message: 'The from object must be provided for every email send.', field: 'from' }])
    if (body.subject === undefined || body.subject === '') return errors(res, 400, [{ message: 'The subject is required.', field: 'subject' }])
    const failure = failures.get(to)
    if (failure?.failure === 'bad-request') return errors(res, 400, [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }])
    if (failure?.failure === 'forbidden') return errors(res, 403, [{ message: 'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.', field: 'from' }])
    if (failure?.failure === 'payload-too-large') return errors(res, 413, [{ message: 'Payload Too Large' }])
    if (failure?.failure === 'rate-limited') {
      // SendGrid tells when the limit resets (a Unix time); it sends no Retry-After.
      const reset = Math.floor(Date.now() / 1000) + failure.retryAfterSeconds
      return errors(res, 429, [{ message: 'too many requests' }], { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) })
    }
    if (failure?.failure === 'server-error') return errors(res, 503, [{ message: 'Service Unavailable' }])
    const messageId = randomBytes(16).toString('base64url')
    const content = (type: string) => body.content?.find((c) => c.type === type)?.value ?? ''
    sent.push({ messageId, to, from: body.from.email, subject: body.subject, text: content('text/plain'), html: content('text/html') })
    res.writeHead(202, { 'x-message-id': messageId }).end()
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { if (!res.headersSent) errors(res, 500, [{ message: String(err) }]) })
  })
  const { url, close } = await listenLocal(server)
  return {
    url,
    apiKey,
    sent,
    get requests () { return requests },
    failAddress (to, failure, { retryAfterSeconds = 30 } = {}) { failures.set(to, { failure, retryAfterSeconds }) },
    clearFailures () { failures.clear() },
    close
  }
}
