import { errors } from '../../lib/errors.ts'
import type { CloudProviderName } from '../providers/cloud/types.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { refreshTokens, type OAuthClient } from './oauth.ts'
import type { Connection, ConnectionStore } from './store.ts'

// A connection's access token, refreshed shortly before it expires and once more when the
// provider answers 401 anyway. The refresh holds the connection's row (FOR UPDATE) while it
// asks the provider, so two workers never spend one rotating refresh token twice: the second
// finds the row already refreshed and uses the new token.

// Refresh this long before the stated expiry, so a token never expires mid-fetch.
const REFRESH_MARGIN_MS = 5 * 60_000

export const providerStatusOf = (err: unknown): number | undefined => (err as { providerStatus?: number }).providerStatus

export class NotConnectedError extends Error {
  constructor (provider: string) {
    super(`no active ${provider} connection`)
    this.name = 'NotConnectedError'
  }
}

export interface TokenDeps {
  pool: Db
  transact: Transact
  store: ConnectionStore
  clients: Partial<Record<CloudProviderName, OAuthClient>>
  now: () => Date
}

export function createTokenKeeper (deps: TokenDeps) {
  const { store, now } = deps
  const expiresSoon = (c: Connection): boolean => c.expiresAt !== null && c.expiresAt.getTime() - now().getTime() < REFRESH_MARGIN_MS

  async function refresh (seen: Connection, force: boolean): Promise<Connection> {
    const client = deps.clients[seen.provider]
    if (client === undefined) throw new NotConnectedError(seen.provider)
    let refused: string | null = null
    const fresh = await deps.transact(async (tx) => {
      const row = await store.get(tx, seen.userId, seen.provider, true)
      if (row === null || row.status !== 'active') throw new NotConnectedError(seen.provider)
      // Another worker refreshed while this one waited for the row.
      if (force ? row.accessToken !== seen.accessToken : !expiresSoon(row)) return row
      if (row.refreshToken === null) {
        refused = 'the access token expired and the provider gave no refresh token'
        return null
      }
      try {
        const tokens = await refreshTokens(client, row.refreshToken, now())
        await store.saveRefreshed(tx, row.userId, row.provider, tokens)
        return { ...row, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? row.refreshToken, expiresAt: tokens.expiresAt }
      } catch (err) {
        const status = providerStatusOf(err)
        // invalid_grant (400) or an unknown client (401): only the user can fix it, by connecting again.
        if (status === 400 || status === 401) {
          refused = `${client.provider.label} refused the refresh token (HTTP ${status}); connect again`
          return null
        }
        throw err
      }
    })
    if (fresh === null) {
      await store.markFailed(deps.pool, seen.userId, seen.provider, refused ?? 'refresh refused', true)
      throw Object.assign(errors.Unprocessable(refused ?? 'refresh refused'), { reauthorize: true })
    }
    return fresh
  }

  return {
    async withToken<T> (userId: string, provider: CloudProviderName, fn: (accessToken: string) => Promise<T>): Promise<T> {
      let connection = await store.get(deps.pool, userId, provider)
      if (connection === null || connection.status !== 'active') throw new NotConnectedError(provider)
      if (expiresSoon(connection)) connection = await refresh(connection, false)
      try {
        return await fn(connection.accessToken)
      } catch (err) {
        if (providerStatusOf(err) !== 401 || connection.refreshToken === null) throw err
        connection = await refresh(connection, true)
        return await fn(connection.accessToken)
      }
    }
  }
}

export type TokenKeeper = ReturnType<typeof createTokenKeeper>
