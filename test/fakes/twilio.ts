// A local fake of Twilio's Messages API (2010-04-01). The real `twilio` SDK posts
// form-encoded messages here with basic auth (account SID, auth token) and reads Twilio's
// message resource and error shapes back ({ code, message, more_info, status }), so the
// sender's error mapping runs as in production. Tests make a number fail through `failNumber`.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { listenLocal, readBody, replyJson } from './http.ts'

export type TwilioFailure =
  | 'invalid-number' // 400, 21211: the 'To' number is not a valid phone number
  | 'unsubscribed' // 400, 21610: the recipient replied STOP
  | 'not-mobile' // 400, 21614: the 'To' number is not a mobile number
  | 'rate-limited' // 429, 20429: too many requests
  | 'server-error' // 500, 20500: an internal error

export interface TwilioSms { sid: string, to: string, from: string | null, messagingServiceSid: string | null, body: string }

export interface FakeTwilio {
  url: string
  accountSid: string
  authToken: string
  sent: TwilioSms[]
  requests: number
  failNumber: (to: string, failure: TwilioFailure) => void
  clearFailures: () => void
  close: () => Promise<void>
}

const FAILURES: Record<TwilioFailure, { status: number, code: number, message: string }> = {
  'invalid-number': { status: 400, code: 21211, message: 'The \'To\' number is not a valid phone number.' },
  unsubscribed: { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' },
  'not-mobile': { status: 400, code: 21614, message: '\'To\' number is not a valid mobile number' },
  'rate-limited': { status: 429, code: 20429, message: 'Too Many Requests' },
  'server-error': { status: 500, code: 20500, message: 'An internal server error has occurred' }
}

function error (res: ServerResponse, status: number, code: number, message: string): void {
  replyJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status })
}

export async function startFakeTwilio (): Promise<FakeTwilio> {
  const accountSid = `AC${randomBytes(16).toString('hex')}`
  const authToken = randomBytes(16).toString('hex')
  const failures = new Map<string, TwilioFailure>()
  const sent: TwilioSms[] = []
  let requests = 0

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path)
    if (req.method !== 'POST' || match === null) return error(res, 404, 20404, 'The requested resource was not found')
    const auth = req.headers.authorization ?? ''
    const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':')
    if (!auth.startsWith('Basic ') || user !== accountSid || pass !== authToken) return error(res, 401, 20003, 'Authenticate')
    if (match[1] !== accountSid) return error(res, 404, 20404, 'The requested resource was not found')
    const form = new URLSearchParams(await readBody(req))
    const to = form.get('To')
    const body = form.get('Body')
    const from = form.get('From')
    const service = form.get('MessagingServiceSid')
    if (to === null) return error(res, 400, 21604, 'A \'To\' phone number is required.')
    if (body === null || body === '') return error(res, 400, 21602, 'Message body is required.')
    if (from === null && service === null) return error(res, 400, 21603, 'A \'From\' or \'MessagingServiceSid\' parameter is required to send a message.')
    if (!/^\+[1-9]\d{6,14}$/.test(to)) return error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`)
    const failure = failures.get(to)
    if (failure !== undefined) {
      const f = FAILURES[failure]
      return error(res, f.status, f.code, f.message)
    }
    const sid = `SM${randomBytes(16).toString('hex')}`
    sent.push({ sid, to, from, messagingServiceSid: service, body })
    const now = new Date().toUTCString()
    res.writeHead(201, { 'content-type': 'application/json' })
    res.end(JSON.stringify({
      account_sid: accountSid,
      api_version: '2010-04-01',
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: service,
      num_media: '0',
      num_segments: String(Math.ceil(body.length / 153)),
      price: null,
      price_unit: 'USD',
      sid,
      status: service === null ? 'queued' : 'accepted',
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      to,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`
    }))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { if (!res.headersSent) error(res, 500, 20500, String(err)) })
  })
  const { url, close } = await listenLocal(server)
  return {
    url,
    accountSid,
    authToken,
    sent,
    get requests () { return requests },
    failNumber (to, failure) { failures.set(to, failure) },
    clearFailures () { failures.clear() },
    close
  }
}
