import type { Agent } from 'node:http'
import type { JWT } from 'google-auth-library'
import type { OutgoingPush, Sender, SendResult } from './types.ts'
import { sendEach } from './send-each.ts'
import { retryAfterSeconds } from './retry-after.ts'

export interface FcmSenderOptions {
  projectId: string
  // The service account's `client_email` and `private_key`.
  clientEmail: string
  privateKey: string
  // Another API host and OAuth token endpoint (local fakes in tests), else Google's.
  apiUrl?: string
  tokenUrl?: string
  // Requests in flight at once: FCM v1 takes one message per request.
  concurrency?: number
  timeoutMs: number
}

const FCM_API_URL = 'https://fcm.googleapis.com'
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
const MESSAGING_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest'
// As firebase-admin's sendEach: up to 500 messages, each its own request.
const MAX_BATCH = 500
const DEFAULT_CONCURRENCY = 50

// Google's error body: { error: { code, message, status, details: [...] } }.
interface GoogleError {
  code?: number
  message?: string
  status?: string
  details?: Array<{ '@type'?: string, errorCode?: string, fieldViolations?: Array<{ field?: string }> }>
}

// Push through FCM's HTTP v1 API, authorised by an OAuth2 access token that google-auth-library
// mints from the service account (a signed JWT grant) and refreshes before it expires. The SDK
// and node:http load only when push is configured.
export async function createFcmSender (opts: FcmSenderOptions): Promise<Sender<OutgoingPush>> {
  const [{ JWT }, http, https] = await Promise.all([
    import('google-auth-library'), import('node:http'), import('node:https')
  ])
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY
  const jwt = new JWT({
    email: opts.clientEmail,
    // A key pasted into an environment variable keeps its newlines escaped.
    key: opts.privateKey.replaceAll('\\n', '\n'),
    scopes: [MESSAGING_SCOPE]
  })
  if (opts.tokenUrl) redirectTokenRequests(jwt, opts.tokenUrl)
  // Kept-alive connections, as many as requests in flight (http: only for a local fake).
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: concurrency })
  const base = (opts.apiUrl ?? FCM_API_URL).replace(/\/+$/, '')
  const endpoint = `${base}/v1/projects/${encodeURIComponent(opts.projectId)}/messages:send`

  async function sendOne (push: OutgoingPush): Promise<SendResult> {
    const response = await jwt.request<unknown>({
      url: endpoint,
      method: 'POST',
      data: fcmMessage(push),
      agent: (url: URL): Agent => url.protocol === 'http:' ? httpAgent : httpsAgent,
      timeout: opts.timeoutMs,
      retry: false,
      // Every answer is mapped below; only a missing answer throws.
      validateStatus: () => true
    })
    return fcmResult(push.key, response.status, response.data, response.headers.get('retry-after'))
  }

  return {
    provider: 'fcm',
    maxBatch: MAX_BATCH,
    async send (pushes) {
      if (pushes.length === 0) return []
      // One token for the batch: when it cannot be had (bad key, token endpoint down), nothing
      // can go and the batch is thrown back whole instead of failing message by message.
      await jwt.getAccessToken()
      return await sendEach(pushes, concurrency, sendOne)
    },
    async close () {
      httpAgent.destroy()
      httpsAgent.destroy()
    }
  }
}

// google-auth-library posts the JWT grant to Google's token endpoint, a constant in its source
// (neither an option nor the key file's `token_uri` changes it); a request interceptor on the
// client's transporter is the seam that lets tests aim it at a fake.
function redirectTokenRequests (jwt: JWT, tokenUrl: string): void {
  jwt.transporter.interceptors.request.add({
    async resolved (options) {
      if (options.url.toString() === GOOGLE_TOKEN_URL) options.url = new URL(tokenUrl)
      return options
    }
  })
}

function fcmMessage (push: OutgoingPush) {
  const high = push.priority === 'high'
  return {
    message: {
      token: push.token,
      notification: { title: push.title, body: push.body },
      data: push.data,
      android: { priority: high ? 'HIGH' : 'NORMAL' },
      apns: { headers: { 'apns-priority': high ? '10' : '5' } }
    }
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// The error code FCM puts in its FcmError detail (UNREGISTERED, QUOTA_EXCEEDED...).
function fcmErrorCode (error: GoogleError): string | undefined {
  return error.details?.find((detail) => detail['@type'] === FCM_ERROR_TYPE)?.errorCode
}

// A 400 about the token itself, not the payload: the token is malformed and never will work.
function isInvalidToken (error: GoogleError): boolean {
  const aboutToken = error.details?.some((detail) => detail['@type'] === BAD_REQUEST_TYPE &&
    detail.fieldViolations?.some((violation) => violation.field === 'message.token'))
  return aboutToken === true || /registration token/i.test(error.message ?? '')
}

// FCM's answer as a result, following its documented error codes
// (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
export function fcmResult (key: string, status: number, body: unknown, retryAfter: string | null): SendResult {
  if (status >= 200 && status < 300) {
    const name = isRecord(body) ? body.name : undefined
    return { key, outcome: 'sent', providerId: typeof name === 'string' ? name : null }
  }
  const error: GoogleError = isRecord(body) && isRecord(body.error) ? body.error : {}
  const reason = fcmErrorCode(error) ?? error.status ?? `http_${status}`
  if (status === 404 || reason === 'UNREGISTERED') {
    return { key, outcome: 'failed', reason, retryable: false, unregistered: true }
  }
  if (status === 400 && isInvalidToken(error)) {
    return { key, outcome: 'failed', reason, retryable: false, unregistered: true }
  }
  // Rate limits and server faults pass; 401/403 are our credentials or project (or an APNs
  // certificate on Firebase's side): fixed by us, then the same message goes.
  if (status === 429 || status >= 500 || status === 401 || status === 403) {
    const wait = retryAfterSeconds(retryAfter)
    return { key, outcome: 'failed', reason, retryable: true, ...(wait !== undefined && { retryAfterSeconds: wait }) }
  }
  return { key, outcome: 'failed', reason, retryable: false }
}
