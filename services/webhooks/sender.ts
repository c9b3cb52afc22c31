import https from 'node:https'
import net from 'node:net'
import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import { bareHostname, blockedReason, connectLookup, TargetRefused, type Resolve } from './address-guard.ts'

// Loaded through require, as lib/http-status.ts explains: an ESM import of node:http loads
// Node's bundled undici into the service. Plain http is only for development targets.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export interface SenderOptions {
  timeoutMs: number
  allowPrivate: boolean
  resolve?: Resolve
  // How much of a response body is kept (for the delivery log); the rest is never read.
  maxResponseBytes?: number
}

export interface SendResult {
  statusCode: number
  // The start of the response body, for the delivery log.
  body: string
}

// One POST of a signed message. Resolves with the status of whatever answered (redirects are not
// followed: a 3xx is an answer like any other); rejects on a refused target, a timeout or a
// broken connection. Each call opens its own connection, so every connection goes through
// the address guard.
export function createWebhookSender ({ timeoutMs, allowPrivate, resolve: resolveHost, maxResponseBytes = 1024 }: SenderOptions) {
  const lookup = connectLookup({ allowPrivate, resolve: resolveHost })

  return async function send (target: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const url = new URL(target)
    const host = bareHostname(url)
    // An IP literal is connected to without a lookup: check it here.
    const literalReason = net.isIP(host) !== 0 && !allowPrivate ? blockedReason(host) : null
    if (literalReason !== null) throw new TargetRefused(`refused to connect: ${host} is a ${literalReason} address`)
    if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw new TargetRefused('refused to connect: url must use https')

    const transport = url.protocol === 'https:' ? https : http
    return await new Promise<SendResult>((resolve, reject) => {
      const request = transport.request(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'health-competition-webhooks/1' },
        lookup,
        // A fresh connection per delivery: no pooled socket skips the guard or arrives stale.
        agent: false,
        signal: AbortSignal.timeout(timeoutMs)
      }, (response) => { readStart(response, maxResponseBytes).then(resolve, reject) })
      request.on('error', (err) => {
        reject(err.name === 'AbortError' ? new Error(`timed out after ${timeoutMs} ms`) : err)
      })
      request.end(body)
    })
  }
}

// Keeps the first bytes of the body and drops the connection without reading the rest.
async function readStart (response: IncomingMessage, limit: number): Promise<SendResult> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= limit) break
    }
  } catch {
    // The status already arrived; a body cut short changes nothing.
  } finally {
    response.destroy()
  }
  return { statusCode: response.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, limit).toString('utf8') }
}

export type WebhookSender = ReturnType<typeof createWebhookSender>
