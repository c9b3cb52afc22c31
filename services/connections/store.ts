import type { TokenCipher } from '../../lib/token-cipher.ts'
import type { CloudProviderName, TokenSet } from '../providers/cloud/types.ts'
import type { Db } from '../shared/transactions.ts'

// provider_connections rows, with the tokens sealed on the way in and opened on the way out.
// The associated data binds a sealed token to its user, provider and column.

export interface Connection {
  userId: string
  provider: CloudProviderName
  externalUserId: string
  accessToken: string
  refreshToken: string | null
  expiresAt: Date | null
  status: 'active' | 'reauthorize'
}

interface Row {
  user_id: string
  provider: CloudProviderName
  external_user_id: string
  access_token: string
  refresh_token: string | null
  expires_at: Date | null
  status: 'active' | 'reauthorize'
}

const context = (userId: string, provider: string, column: string): string => `${provider}:${userId}:${column}`

export function createConnectionStore (cipher: TokenCipher) {
  function open (row: Row): Connection {
    return {
      userId: row.user_id,
      provider: row.provider,
      externalUserId: row.external_user_id,
      accessToken: cipher.open(row.access_token, context(row.user_id, row.provider, 'access')),
      refreshToken: row.refresh_token === null ? null : cipher.open(row.refresh_token, context(row.user_id, row.provider, 'refresh')),
      expiresAt: row.expires_at,
      status: row.status
    }
  }

  function sealed (userId: string, provider: string, tokens: Pick<TokenSet, 'accessToken' | 'refreshToken'>) {
    return {
      access: cipher.seal(tokens.accessToken, context(userId, provider, 'access')),
      refresh: tokens.refreshToken === null ? null : cipher.seal(tokens.refreshToken, context(userId, provider, 'refresh'))
    }
  }

  return {
    sealVerifier: (state: string, verifier: string) => cipher.seal(verifier, `oauth-state:${state}`),
    openVerifier: (state: string, sealedVerifier: string) => cipher.open(sealedVerifier, `oauth-state:${state}`),

    // `lock`: inside a transaction, holds the row until it ends (one refresh at a time).
    async get (db: Db, userId: string, provider: CloudProviderName, lock = false): Promise<Connection | null> {
      const { rows } = await db.query<Row>(
        `SELECT user_id, provider, external_user_id, access_token, refresh_token, expires_at, status
         FROM provider_connections WHERE user_id = $1 AND provider = $2 ${lock ? 'FOR UPDATE' : ''}`, [userId, provider])
      return rows[0] === undefined ? null : open(rows[0])
    },

    async usersOf (db: Db, provider: CloudProviderName, externalUserIds: string[]): Promise<Map<string, string>> {
      const { rows } = await db.query<{ user_id: string, external_user_id: string }>(
        `SELECT user_id, external_user_id FROM provider_connections
         WHERE provider = $1 AND external_user_id = ANY($2::text[]) AND status = 'active'`, [provider, externalUserIds])
      return new Map(rows.map((r) => [r.external_user_id, r.user_id]))
    },

    // A provider account connected to another user moves to this one: the provider vouched
    // that this user holds it now.
    async save (db: Db, userId: string, provider: CloudProviderName, tokens: TokenSet & { externalUserId: string }): Promise<void> {
      const s = sealed(userId, provider, tokens)
      await db.query('DELETE FROM provider_connections WHERE provider = $1 AND external_user_id = $2 AND user_id <> $3',
        [provider, tokens.externalUserId, userId])
      await db.query(
        `INSERT INTO provider_connections (user_id, provider, external_user_id, access_token, refresh_token, expires_at, scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, provider) DO UPDATE SET external_user_id = EXCLUDED.external_user_id,
           access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
           scope = EXCLUDED.scope, status = 'active', connected_at = now(), last_error = NULL, last_error_at = NULL`,
        [userId, provider, tokens.externalUserId, s.access, s.refresh, tokens.expiresAt, tokens.scope])
    },

    // A provider that does not rotate refresh tokens answers without one: the old one stays.
    async saveRefreshed (db: Db, userId: string, provider: CloudProviderName, tokens: TokenSet): Promise<void> {
      const s = sealed(userId, provider, tokens)
      await db.query(
        `UPDATE provider_connections SET access_token = $3, refresh_token = coalesce($4, refresh_token), expires_at = $5,
           scope = coalesce($6, scope), refreshed_at = now(), status = 'active'
         WHERE user_id = $1 AND provider = $2`,
        [userId, provider, s.access, s.refresh, tokens.expiresAt, tokens.scope])
    },

    // Re-seals a connection's tokens under the current key (key rotation).
    async reseal (db: Db, connection: Connection): Promise<void> {
      const s = sealed(connection.userId, connection.provider, connection)
      await db.query('UPDATE provider_connections SET access_token = $3, refresh_token = $4 WHERE user_id = $1 AND provider = $2',
        [connection.userId, connection.provider, s.access, s.refresh])
    },

    async markSynced (db: Db, userId: string, provider: CloudProviderName): Promise<void> {
      await db.query('UPDATE provider_connections SET last_sync_at = now(), last_error = NULL, last_error_at = NULL WHERE user_id = $1 AND provider = $2',
        [userId, provider])
    },

    async markFailed (db: Db, userId: string, provider: CloudProviderName, message: string, reauthorize: boolean): Promise<void> {
      await db.query(
        `UPDATE provider_connections SET last_error = left($3, 500), last_error_at = now(),
           status = CASE WHEN $4 THEN 'reauthorize' ELSE status END
         WHERE user_id = $1 AND provider = $2`, [userId, provider, message, reauthorize])
    },

    async remove (db: Db, userId: string, provider: CloudProviderName): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM provider_connections WHERE user_id = $1 AND provider = $2', [userId, provider])
      return (rowCount ?? 0) > 0
    },

    async sealedWithOldKeys (db: Db, currentKeyId: string): Promise<Array<{ userId: string, provider: CloudProviderName }>> {
      const { rows } = await db.query<{ user_id: string, provider: CloudProviderName }>(
        `SELECT user_id, provider FROM provider_connections
         WHERE split_part(access_token, '.', 2) <> $1 OR split_part(coalesce(refresh_token, ''), '.', 2) NOT IN ('', $1)`, [currentKeyId])
      return rows.map((r) => ({ userId: r.user_id, provider: r.provider }))
    }
  }
}

export type ConnectionStore = ReturnType<typeof createConnectionStore>
