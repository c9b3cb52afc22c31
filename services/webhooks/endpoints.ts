import { errors } from '../../lib/errors.ts'
import type { NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointPatch, WebhookEndpointWithSecret } from '../../schemas/webhooks.ts'
import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'
import { checkTarget, TargetRefused, type Resolve } from './address-guard.ts'
import { newSecret } from './messages.ts'

// Endpoints integrators receive webhooks on, managed by admins. The secret is shown when it is
// made (create, rotate) and never again.

export interface EndpointsDeps {
  pool: Db
  allowPrivateTargets: boolean
  resolve?: Resolve
}

export interface PageQuery { cursor?: string, limit: number }

const COLUMNS = `id, url, event_types, description, enabled, disabled_reason, disabled_at, created_by,
  created_at, updated_at, to_json(created_at) #>> '{}' AS cursor_ts`

interface EndpointRow {
  id: string
  url: string
  event_types: string[]
  description: string
  enabled: boolean
  disabled_reason: string | null
  disabled_at: Date | null
  created_by: string | null
  created_at: Date
  updated_at: Date
  cursor_ts: string
  secret?: string
}

function toEndpoint (row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    eventTypes: row.event_types as WebhookEndpoint['eventTypes'],
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at?.toISOString() ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

function withSecret (row: EndpointRow): WebhookEndpointWithSecret {
  return { ...toEndpoint(row), secret: row.secret! }
}

export function createWebhookEndpointsService ({ pool, allowPrivateTargets, resolve }: EndpointsDeps) {
  // 400 naming why a URL may not receive webhooks.
  async function checkUrl (url: string): Promise<string> {
    try {
      return (await checkTarget(url, { allowPrivate: allowPrivateTargets, resolve })).href
    } catch (err) {
      if (err instanceof TargetRefused) throw errors.BadRequest(err.message)
      throw err
    }
  }

  async function create (createdBy: string | null, body: NewWebhookEndpoint): Promise<WebhookEndpointWithSecret> {
    const url = await checkUrl(body.url)
    const { rows } = await pool.query<EndpointRow>(`INSERT INTO webhook_endpoints (url, secret, event_types, description, created_by)
      VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}, secret`, [url, newSecret(), body.eventTypes, body.description ?? '', createdBy])
    return withSecret(rows[0]!)
  }

  async function list (page: PageQuery): Promise<Page<WebhookEndpoint>> {
    const request = pageRequest(page.cursor, ['string', 'string'])
    const { rows } = await pool.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhook_endpoints
      WHERE $1::timestamptz IS NULL OR (created_at, id) ${request.compare} ($1, $2::uuid)
      ORDER BY created_at ${request.order}, id ${request.order} LIMIT $3`, [request.key?.[0] ?? null, request.key?.[1] ?? null, page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [r.cursor_ts, r.id])
    return { items: shown.map(toEndpoint), nextCursor, prevCursor }
  }

  async function get (id: string): Promise<WebhookEndpoint> {
    const { rows } = await pool.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1`, [id])
    if (rows[0] === undefined) throw errors.NotFound('Webhook endpoint not found')
    return toEndpoint(rows[0])
  }

  // enabled: true clears the reason it was disabled; enabled: false records an admin's choice.
  async function update (id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint> {
    const url = patch.url === undefined ? null : await checkUrl(patch.url)
    const { rows } = await pool.query<EndpointRow>(`UPDATE webhook_endpoints SET
        url = coalesce($2, url),
        event_types = coalesce($3, event_types),
        description = coalesce($4, description),
        enabled = coalesce($5, enabled),
        disabled_reason = CASE WHEN $5 IS NULL THEN disabled_reason WHEN $5 THEN NULL
          WHEN enabled THEN 'disabled by an admin' ELSE disabled_reason END,
        disabled_at = CASE WHEN $5 IS NULL THEN disabled_at WHEN $5 THEN NULL
          WHEN enabled THEN now() ELSE disabled_at END,
        updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`, [id, url, patch.eventTypes ?? null, patch.description ?? null, patch.enabled ?? null])
    if (rows[0] === undefined) throw errors.NotFound('Webhook endpoint not found')
    return toEndpoint(rows[0])
  }

  // Its deliveries go with it (and their pending jobs find nothing to send).
  async function remove (id: string): Promise<void> {
    const { rowCount } = await pool.query('DELETE FROM webhook_endpoints WHERE id = $1', [id])
    if (rowCount === 0) throw errors.NotFound('Webhook endpoint not found')
  }

  // The old secret stops signing at once; deliveries still pending are signed with the new one.
  async function rotateSecret (id: string): Promise<WebhookEndpointWithSecret> {
    const { rows } = await pool.query<EndpointRow>(`UPDATE webhook_endpoints SET secret = $2, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}, secret`, [id, newSecret()])
    if (rows[0] === undefined) throw errors.NotFound('Webhook endpoint not found')
    return withSecret(rows[0])
  }

  return { create, list, get, update, remove, rotateSecret }
}

export type WebhookEndpointsService = ReturnType<typeof createWebhookEndpointsService>
