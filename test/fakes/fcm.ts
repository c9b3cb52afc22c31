// A local fake of Firebase Cloud Messaging's HTTP v1 API and of Google's OAuth2 token endpoint.
// The real google-auth-library signs a JWT grant with the service account key this fake
// generates and trades it here for an access token (the fake checks the RS256 signature and
// the claims Google checks); messages:send then wants that token as a Bearer. Answers and errors
// have Google's wire shapes, so the sender's error mapping is exercised as in production.
// Tests make a token fail with any documented error kind through `failToken`.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { listenLocal, readBody, replyJson } from './http.ts'

// What the JWT's `aud` must say: Google's token endpoint, wherever the grant is posted.
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
export const MESSAGING_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
// FCM refuses a message whose payload is over 4 KB.
const MAX_PAYLOAD_BYTES = 4096

export type FcmFailure =
  | 'unregistered' // 404 NOT_FOUND, UNREGISTERED: the app was uninstalled
  | 'invalid-token' // 400 INVALID_ARGUMENT: not a valid FCM registration token
  | 'quota-exceeded' // 429 RESOURCE_EXHAUSTED, QUOTA_EXCEEDED, with Retry-After
  | 'unavailable' // 503 UNAVAILABLE, with Retry-After
  | 'internal' // 500 INTERNAL
  | 'sender-id-mismatch' // 403 PERMISSION_DENIED, SENDER_ID_MISMATCH

export interface FcmDelivery {
  name: string
  token: string
  title: string | undefined
  body: string | undefined
  data: Record<string, string>
  androidPriority: string | undefined
  apnsPriority: string | undefined
}

export interface FakeFcm {
  // The API base (the sender's `apiUrl`) and the OAuth token endpoint (its `tokenUrl`).
  url: string
  tokenUrl: string
  projectId: string
  clientEmail: string
  // PKCS#8 PEM of the key pair generated for this fake; the fake holds the public half.
  privateKey: string
  sent: FcmDelivery[]
  // messages:send requests answered, failures included.
  sendRequests: number
  // The most messages:send requests in flight at once, and TCP connections accepted.
  maxConcurrent: number
  connections: number
  tokensIssued: number
  failToken: (token: string, failure: FcmFailure, opts?: { retryAfterSeconds?: number }) => void
  clearFailures: () => void
  // Answers messages:send only after this long, so that concurrency can be observed.
  setResponseDelay: (ms: number) => void
  // Holds the first answers until this many messages:send requests are in flight at once (or
  // the wait passes), so a sender's full concurrency is seen however busy the machine is.
  holdFirstAnswersUntil: (inFlight: number, maxWaitMs?: number) => void
  // Access tokens issued so far are refused from now on (401 UNAUTHENTICATED).
  revokeAccessTokens: () => void
  close: () => Promise<void>
}

interface GoogleErrorBody {
  error: { code: number, message: string, status: string, details: Array<Record<string, unknown>> }
}

class HttpError extends Error {
  status: number
  body: unknown
  headers: Record<string, string>

  constructor (status: number, body: unknown, headers: Record<string, string> = {}) {
    super(`HTTP ${status}`)
    this.status = status
    this.body = body
    this.headers = headers
  }
}

function googleError (code: number, status: string, message: string, errorCode?: string,
  extraDetails: Array<Record<string, unknown>> = []): GoogleErrorBody {
  const details = errorCode === undefined ? extraDetails : [{ '@type': FCM_ERROR_TYPE, errorCode }, ...extraDetails]
  return { error: { code, message, status, details } }
}

function failureError (failure: FcmFailure, retryAfterSeconds: number): HttpError {
  const retryAfter = { 'retry-after': String(retryAfterSeconds) }
  switch (failure) {
    case 'unregistered':
      return new HttpError(404, googleError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'))
    case 'invalid-token':
      return new HttpError(400, googleError(400, 'INVALID_ARGUMENT',
        'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'))
    case 'quota-exceeded':
      return new HttpError(429, googleError(429, 'RESOURCE_EXHAUSTED',
        "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.", 'QUOTA_EXCEEDED'), retryAfter)
    case 'unavailable':
      return new HttpError(503, googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE'), retryAfter)
    case 'internal':
      return new HttpError(500, googleError(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL'))
    case 'sender-id-mismatch':
      return new HttpError(403, googleError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH'))
  }
}

function invalidArgument (message: string, field: string): HttpError {
  return new HttpError(400, googleError(400, 'INVALID_ARGUMENT', message, 'INVALID_ARGUMENT',
    [{ '@type': BAD_REQUEST_TYPE, fieldViolations: [{ field, description: message }] }]))
}

function reply (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  replyJson(res, status, body, { 'content-type': 'application/json; charset=UTF-8', ...headers })
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalString (value: unknown, field: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value
  throw invalidArgument(`Invalid value at '${field}' (TYPE_STRING), ${JSON.stringify(value)}`, field)
}

function decodeSegment (segment: string | undefined): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'))
    return isRecord(value) ? value : null
  } catch {
    return null
  }
}

// Google's checks of a JWT-bearer assertion, with its error answers.
function checkAssertion (assertion: string, publicKey: KeyObject, clientEmail: string): void {
  const invalidGrant = (description: string) => new HttpError(400, { error: 'invalid_grant', error_description: description })
  const [header, payload, signature] = assertion.split('.')
  const head = decodeSegment(header)
  const claims = decodeSegment(payload)
  if (head === null || claims === null || signature === undefined) throw invalidGrant('Invalid JWT: Token must be a well-formed JWT.')
  if (head.alg !== 'RS256') throw invalidGrant('Invalid JWT Signature.')
  const signed = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))
  if (!signed) throw invalidGrant('Invalid JWT Signature.')
  if (claims.iss !== clientEmail) throw invalidGrant('Invalid grant: account not found')
  if (claims.aud !== GOOGLE_TOKEN_URL) throw invalidGrant('Invalid JWT: Failed audience check.')
  const now = Math.floor(Date.now() / 1000)
  const { iat, exp } = claims
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= now || iat > now + 300 || exp - iat > 3600) {
    throw invalidGrant('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.')
  }
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
  if (!scopes.includes(MESSAGING_SCOPE)) throw new HttpError(400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' })
}

function messageId (): string {
  return `0:${Date.now()}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}%${randomBytes(8).toString('hex')}`
}

export async function startFakeFcm (opts: { projectId?: string } = {}): Promise<FakeFcm> {
  const projectId = opts.projectId ?? 'fake-project'
  const clientEmail = `notifications@${projectId}.iam.gserviceaccount.com`
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const failures = new Map<string, { failure: FcmFailure, retryAfterSeconds: number }>()
  const accessTokens = new Set<string>()
  let responseDelayMs = 0
  let inFlight = 0
  let gate: { until: number, open: () => void, opened: Promise<void> } | null = null

  function issueToken (form: URLSearchParams): unknown {
    if (form.get('grant_type') !== JWT_BEARER) {
      throw new HttpError(400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + (form.get('grant_type') ?? '') })
    }
    checkAssertion(form.get('assertion') ?? '', publicKey, clientEmail)
    const token = `ya29.c.${randomBytes(24).toString('base64url')}`
    accessTokens.add(token)
    fake.tokensIssued++
    return { access_token: token, expires_in: 3599, token_type: 'Bearer' }
  }

  function accept (project: string, authorization: string | undefined, raw: string): FcmDelivery {
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
    if (bearer === undefined || !accessTokens.has(bearer)) {
      throw new HttpError(401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'))
    }
    if (project !== projectId) {
      throw new HttpError(403, googleError(403, 'PERMISSION_DENIED', `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`))
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      throw new HttpError(400, googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'))
    }
    const message = isRecord(parsed) && isRecord(parsed.message) ? parsed.message : null
    if (message === null) throw invalidArgument('Request contains an invalid argument.', 'message')
    const token = message.token
    if (typeof token !== 'string' || token === '') throw invalidArgument('Recipient of the message is not set.', 'message.token')
    const notification = isRecord(message.notification) ? message.notification : {}
    const data = isRecord(message.data) ? message.data : {}
    for (const [name, value] of Object.entries(data)) optionalString(value, `message.data[${name}].value`)
    const android = isRecord(message.android) ? message.android : {}
    const apnsHeaders = isRecord(message.apns) && isRecord(message.apns.headers) ? message.apns.headers : {}
    const androidPriority = optionalString(android.priority, 'message.android.priority')
    if (androidPriority !== undefined && !['HIGH', 'NORMAL'].includes(androidPriority)) {
      throw invalidArgument(`Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "${androidPriority}"`, 'message.android.priority')
    }
    if (Buffer.byteLength(JSON.stringify({ notification, data })) > MAX_PAYLOAD_BYTES) {
      throw new HttpError(400, googleError(400, 'INVALID_ARGUMENT', 'Android message is too big', 'INVALID_ARGUMENT'))
    }
    const failure = failures.get(token)
    if (failure) throw failureError(failure.failure, failure.retryAfterSeconds)
    const delivery: FcmDelivery = {
      name: `projects/${projectId}/messages/${messageId()}`,
      token,
      title: optionalString(notification.title, 'message.notification.title'),
      body: optionalString(notification.body, 'message.notification.body'),
      data: data as Record<string, string>,
      androidPriority,
      apnsPriority: optionalString(apnsHeaders['apns-priority'], 'message.apns.headers')
    }
    fake.sent.push(delivery)
    return delivery
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://fake').pathname
    const raw = await readBody(req)
    if (req.method === 'POST' && path === '/token') {
      reply(res, 200, issueToken(new URLSearchParams(raw)))
      return
    }
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path)
    if (req.method !== 'POST' || send === null) {
      throw new HttpError(404, googleError(404, 'NOT_FOUND', 'The requested URL was not found on this server.'))
    }
    inFlight++
    fake.maxConcurrent = Math.max(fake.maxConcurrent, inFlight)
    try {
      if (gate !== null) {
        if (inFlight >= gate.until) gate.open()
        await gate.opened
      }
      if (responseDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, responseDelayMs))
      fake.sendRequests++
      const delivery = accept(decodeURIComponent(send[1] ?? ''), req.headers.authorization, raw)
      reply(res, 200, { name: delivery.name })
    } finally {
      inFlight--
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) reply(res, err.status, err.body, err.headers)
      else reply(res, 500, googleError(500, 'INTERNAL', String(err)))
    })
  })
  server.on('connection', () => { fake.connections++ })
  const { url, close } = await listenLocal(server)

  const fake: FakeFcm = {
    url,
    tokenUrl: `${url}/token`,
    projectId,
    clientEmail,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    sent: [],
    sendRequests: 0,
    maxConcurrent: 0,
    connections: 0,
    tokensIssued: 0,
    failToken (token, failure, { retryAfterSeconds = 30 } = {}) {
      failures.set(token, { failure, retryAfterSeconds })
    },
    clearFailures () {
      failures.clear()
    },
    setResponseDelay (ms) {
      responseDelayMs = ms
    },
    holdFirstAnswersUntil (until, maxWaitMs = 5000) {
      let open = () => {}
      const opened = new Promise<void>((resolve) => { open = resolve })
      setTimeout(open, maxWaitMs).unref()
      gate = { until, open, opened }
    },
    revokeAccessTokens () {
      accessTokens.clear()
    },
    close
  }
  return fake
}
