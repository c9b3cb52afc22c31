import { errors } from '../../lib/errors.ts'
import type { Db } from '../shared/transactions.ts'
import type { NewDevice } from '../../schemas/notifications.ts'

// Push tokens of a user's app installs. A token names one install: registering it again
// refreshes it, and one registered by another user (someone else signed in on the phone) moves
// to them. Tokens a provider reports as unregistered are deleted by the dispatcher.

// Installs kept per user; registering one more forgets the one seen longest ago.
export const MAX_DEVICES = 10

const EXPO_TOKEN = /^Expo(nent)?PushToken\[[^\]]+\]$/

interface DeviceRow { id: string, provider: 'fcm' | 'expo', platform: 'android' | 'ios' | 'web', app_version: string, created_at: Date, last_seen_at: Date }

const toDevice = (r: DeviceRow) => ({
  id: r.id,
  provider: r.provider,
  platform: r.platform,
  appVersion: r.app_version,
  createdAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at.toISOString()
})

export function createDevices ({ db }: { db: Db }) {
  return {
    async register (userId: string, device: NewDevice): Promise<{ device: ReturnType<typeof toDevice>, created: boolean }> {
      if ((device.provider === 'expo') !== EXPO_TOKEN.test(device.token)) {
        throw errors.BadRequest(device.provider === 'expo'
          ? 'token is not an Expo push token (ExponentPushToken[...])'
          : 'token is an Expo push token; register it with provider "expo"')
      }
      const { rows } = await db.query<DeviceRow & { created: boolean }>(`INSERT INTO push_devices (user_id, provider, token, platform, app_version)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (token) DO UPDATE SET user_id = EXCLUDED.user_id, provider = EXCLUDED.provider, platform = EXCLUDED.platform,
          app_version = EXCLUDED.app_version, last_seen_at = now()
        RETURNING id, provider, platform, app_version, created_at, last_seen_at, (xmax = 0) AS created`,
      [userId, device.provider, device.token, device.platform, device.appVersion])
      await db.query(`DELETE FROM push_devices WHERE user_id = $1 AND id NOT IN (
        SELECT id FROM push_devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id LIMIT $2)`, [userId, MAX_DEVICES])
      return { device: toDevice(rows[0]!), created: rows[0]!.created }
    },

    async list (userId: string) {
      const { rows } = await db.query<DeviceRow>(`SELECT id, provider, platform, app_version, created_at, last_seen_at
        FROM push_devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id`, [userId])
      return rows.map(toDevice)
    },

    async remove (userId: string, id: string): Promise<void> {
      const { rowCount } = await db.query('DELETE FROM push_devices WHERE id = $1 AND user_id = $2', [id, userId])
      if (rowCount === 0) throw errors.NotFound('Device not found')
    }
  }
}
