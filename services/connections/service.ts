import { errors } from '../../lib/errors.ts'
import type { CloudProviderName } from '../providers/cloud/types.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { authorizeUrl, exchangeCode, newCodeVerifier, newState, type OAuthClient } from './oauth.ts'
import type { ConnectionStore } from './store.ts'
import type { Ingest, ProviderSync } from './sync.ts'
import { providerStatusOf } from './tokens.ts'

// Connecting a cloud provider (begin, the provider's redirect, status) and disconnecting it
// (the rule for data already counted: DISCONNECT_RULE in schemas/connections.ts).

export interface ConnectionsDeps {
  pool: Db
  transact: Transact
  store: ConnectionStore
  sync: ProviderSync
  clients: Partial<Record<CloudProviderName, OAuthClient>>
  ingest: Ingest
  batchMax: number
  stateTtlMs: number
  now: () => Date
}

export interface ConnectionStatus {
  provider: CloudProviderName
  label: string
  connected: boolean
  status: 'active' | 'reauthorize' | 'disconnected'
  externalUserId: string | null
  scope: string | null
  connectedAt: string | null
  lastSyncAt: string | null
  lastError: string | null
  lastErrorAt: string | null
}

export type CallbackResult = { provider: CloudProviderName, status: 'connected' } | { provider: CloudProviderName, status: 'failed', reason: string }

const iso = (d: Date | null): string | null => d === null ? null : d.toISOString()

export function createConnectionsService (deps: ConnectionsDeps) {
  const { store, now } = deps

  function clientOf (name: CloudProviderName): OAuthClient {
    const client = deps.clients[name]
    if (client === undefined) throw errors.NotFound(`${name} is not configured on this server`)
    return client
  }

  async function begin (userId: string, name: CloudProviderName) {
    const client = clientOf(name)
    const state = newState()
    const verifier = newCodeVerifier()
    const expiresAt = new Date(now().getTime() + deps.stateTtlMs)
    await deps.pool.query('DELETE FROM oauth_states WHERE expires_at < now()')
    await deps.pool.query('INSERT INTO oauth_states (state, user_id, provider, code_verifier, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [state, userId, name, store.sealVerifier(state, verifier), expiresAt])
    return { provider: name, authorizeUrl: authorizeUrl(client, state, verifier), state, expiresAt: expiresAt.toISOString() }
  }

  // The provider's redirect. The state is taken once (a replayed redirect finds nothing), must
  // belong to this provider and be fresh; only then is the code exchanged with its verifier.
  async function complete (name: CloudProviderName, query: { code?: string, state?: string, error?: string }): Promise<CallbackResult> {
    const client = clientOf(name)
    if (query.state === undefined) throw errors.BadRequest('state is missing')
    const { rows } = await deps.pool.query<{ user_id: string, code_verifier: string, fresh: boolean }>(
      `DELETE FROM oauth_states WHERE state = $1 AND provider = $2
       RETURNING user_id, code_verifier, expires_at > now() AS fresh`, [query.state, name])
    const pending = rows[0]
    if (pending === undefined) throw errors.BadRequest('This authorization is unknown or was already used; start connecting again')
    if (!pending.fresh) throw errors.BadRequest('This authorization expired; start connecting again')
    if (query.error !== undefined) return { provider: name, status: 'failed', reason: `${client.provider.label} answered: ${query.error}` }
    if (query.code === undefined) throw errors.BadRequest('code is missing')
    let tokens
    try {
      tokens = await exchangeCode(client, query.code, store.openVerifier(query.state, pending.code_verifier), now())
    } catch (err) {
      const status = providerStatusOf(err)
      if (status !== undefined && status < 500 && status !== 429) {
        return { provider: name, status: 'failed', reason: `${client.provider.label} refused the authorization code (HTTP ${status})` }
      }
      throw err
    }
    const externalUserId = tokens.externalUserId ?? await client.provider.fetchUserId?.(tokens.accessToken)
    if (externalUserId == null) throw errors.GatewayError(`${client.provider.label} did not say which account was connected`)
    await deps.transact(async (tx) => {
      await store.save(tx, pending.user_id, name, { ...tokens, externalUserId })
      await deps.sync.enqueueConnected(tx, name, pending.user_id)
    })
    return { provider: name, status: 'connected' }
  }

  async function list (userId: string): Promise<ConnectionStatus[]> {
    const { rows } = await deps.pool.query<{
      provider: CloudProviderName,
      external_user_id: string,
      status: 'active' | 'reauthorize',
      scope: string | null,
      connected_at: Date,
      last_sync_at: Date | null,
      last_error: string | null,
      last_error_at: Date | null
    }>(`SELECT provider, external_user_id, status, scope, connected_at, last_sync_at, last_error, last_error_at
        FROM provider_connections WHERE user_id = $1`, [userId])
    const byProvider = new Map(rows.map((r) => [r.provider, r]))
    return Object.values(deps.clients).map(({ provider }) => {
      const r = byProvider.get(provider.name)
      return {
        provider: provider.name,
        label: provider.label,
        connected: r !== undefined,
        status: r?.status ?? 'disconnected',
        externalUserId: r?.external_user_id ?? null,
        scope: r?.scope ?? null,
        connectedAt: iso(r?.connected_at ?? null),
        lastSyncAt: iso(r?.last_sync_at ?? null),
        lastError: r?.last_error ?? null,
        lastErrorAt: iso(r?.last_error_at ?? null)
      }
    })
  }

  // Revoked at the provider first (best effort: a provider that is down or already forgot the
  // token must not keep the user connected), then the tokens are deleted.
  async function disconnect (userId: string, name: CloudProviderName, deleteData: boolean): Promise<{ revoked: boolean, deletedRecords: number }> {
    const client = clientOf(name)
    const connection = await store.get(deps.pool, userId, name)
    if (connection === null) throw errors.NotFound(`${client.provider.label} is not connected`)
    let revoked = true
    try {
      await client.provider.revoke(connection)
    } catch {
      revoked = false
    }
    await store.remove(deps.pool, userId, name)
    let deletedRecords = 0
    if (deleteData) {
      const { rows } = await deps.pool.query<{ external_id: string }>(
        'SELECT external_id FROM fitness_samples WHERE user_id = $1 AND source = $2 AND NOT deleted', [userId, client.provider.source])
      for (let i = 0; i < rows.length; i += deps.batchMax) {
        await deps.ingest(userId, client.provider.source, [], rows.slice(i, i + deps.batchMax).map((r) => ({ externalId: r.external_id })))
      }
      deletedRecords = rows.length
    }
    return { revoked, deletedRecords }
  }

  // Key rotation: every token sealed under an older key is sealed again under the current one.
  async function resealTokens (currentKeyId: string): Promise<number> {
    const stale = await store.sealedWithOldKeys(deps.pool, currentKeyId)
    for (const { userId, provider } of stale) {
      await deps.transact(async (tx) => {
        const connection = await store.get(tx, userId, provider, true)
        if (connection !== null) await store.reseal(tx, connection)
      })
    }
    return stale.length
  }

  return { begin, complete, list, disconnect, resealTokens }
}

export type ConnectionsService = ReturnType<typeof createConnectionsService>
