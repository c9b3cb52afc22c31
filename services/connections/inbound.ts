import { errors } from '../../lib/errors.ts'
import type { CloudProvider, CloudProviderName, InboundWebhook, WebhookOutcome } from '../providers/cloud/types.ts'
import type { Db } from '../shared/transactions.ts'
import type { ConnectionStore } from './store.ts'
import type { ProviderSync, ProviderSyncJob } from './sync.ts'

// Webhooks from providers: verified as each documents (the module decides), answered at once,
// the work left to durable jobs. A notification for an account nobody here has connected is
// acknowledged and dropped: the provider would only send it again.

export interface InboundDeps {
  pool: Db
  store: ConnectionStore
  sync: ProviderSync
  providers: Partial<Record<CloudProviderName, CloudProvider>>
  onReceived?: (provider: CloudProviderName, outcome: 'handshake' | 'refused' | 'accepted' | 'unknown_user') => void
}

// Refusals in the common error shape, with the status each provider asks for.
const REFUSALS = { 400: errors.BadRequest, 401: errors.Unauthorized, 403: errors.Forbidden, 404: errors.NotFound }

export interface InboundAnswer { status: 200 | 204, body?: unknown }

export function createInboundWebhooks (deps: InboundDeps) {
  return async function receive (name: CloudProviderName, request: InboundWebhook): Promise<InboundAnswer> {
    const provider = deps.providers[name]
    if (provider === undefined) throw errors.NotFound(`${name} is not configured on this server`)
    const outcome: WebhookOutcome = provider.webhook(request)
    if (outcome.kind === 'handshake') {
      deps.onReceived?.(name, 'handshake')
      return { status: outcome.status, body: outcome.body }
    }
    if (outcome.kind === 'refused') {
      deps.onReceived?.(name, 'refused')
      throw REFUSALS[outcome.status](outcome.reason)
    }
    const users = await deps.store.usersOf(deps.pool, name, [...new Set(outcome.items.map((n) => n.externalUserId))])
    const jobs: ProviderSyncJob[] = []
    for (const item of outcome.items) {
      const userId = users.get(item.externalUserId)
      deps.onReceived?.(name, userId === undefined ? 'unknown_user' : 'accepted')
      if (userId !== undefined) jobs.push({ provider: name, userId, work: item.work })
    }
    await deps.sync.enqueue(deps.pool, jobs)
    return { status: outcome.status }
  }
}
