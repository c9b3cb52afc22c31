import { errors } from '../../lib/errors.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { Preferences, PreferencesPatch } from '../../schemas/notifications.ts'
import { CATEGORIES, CHANNELS, DEFAULT_PREFERENCES, channelAllowed, type Category, type Channel } from './categories.ts'

// A user's say over their notifications: channels per category over the defaults, quiet hours
// and the daily cap. Only differences from the defaults are stored.

export const DEFAULT_DAILY_CAP = 10

const clock = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

export function createPreferences ({ db, transact }: { db: Db, transact: Transact }) {
  // Read on the pool, or in the transaction of an update.
  async function get (userId: string, q: Db = db): Promise<Preferences> {
    const stored = await q.query<{ category: Category, channel: Channel, enabled: boolean }>(
      'SELECT category, channel, enabled FROM notification_preferences WHERE user_id = $1', [userId])
    const settings = await q.query<{ quiet_start: number | null, quiet_end: number | null, daily_cap: number }>(
      'SELECT quiet_start, quiet_end, daily_cap FROM notification_settings WHERE user_id = $1', [userId])
    const categories = Object.fromEntries(CATEGORIES.map((c) => [c, { ...DEFAULT_PREFERENCES[c] }])) as Preferences['categories']
    for (const row of stored.rows) categories[row.category][row.channel] = row.enabled
    const s = settings.rows[0]
    return {
      categories,
      quietHours: s?.quiet_start == null || s.quiet_end == null ? null : { start: clock(s.quiet_start), end: clock(s.quiet_end) },
      dailyCap: s?.daily_cap ?? DEFAULT_DAILY_CAP
    }
  }

  async function update (userId: string, patch: PreferencesPatch): Promise<Preferences> {
    const cells: Array<[Category, Channel, boolean]> = []
    for (const category of CATEGORIES) {
      for (const channel of CHANNELS) {
        const enabled = patch.categories?.[category]?.[channel]
        if (enabled === undefined) continue
        if (enabled && !channelAllowed(category, channel)) throw errors.BadRequest(`categories.${category}.sms: SMS is only for money and security`)
        cells.push([category, channel, enabled])
      }
    }
    if (patch.quietHours != null && patch.quietHours.start === patch.quietHours.end) {
      throw errors.BadRequest('quietHours: start and end must differ')
    }
    return await transact(async (tx) => {
      const { rowCount } = await tx.query('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [userId])
      if (rowCount === 0) throw errors.NotFound('User not found')
      if (cells.length > 0) {
        await tx.query(`INSERT INTO notification_preferences (user_id, category, channel, enabled)
          SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[])
          ON CONFLICT (user_id, category, channel) DO UPDATE SET enabled = EXCLUDED.enabled`,
        [userId, cells.map((c) => c[0]), cells.map((c) => c[1]), cells.map((c) => c[2])])
      }
      if (patch.quietHours !== undefined || patch.dailyCap !== undefined) {
        const quiet = patch.quietHours
        await tx.query(`INSERT INTO notification_settings (user_id, quiet_start, quiet_end, daily_cap)
          VALUES ($1, $3, $4, COALESCE($5, ${DEFAULT_DAILY_CAP}))
          ON CONFLICT (user_id) DO UPDATE SET
            quiet_start = CASE WHEN $2 THEN EXCLUDED.quiet_start ELSE notification_settings.quiet_start END,
            quiet_end = CASE WHEN $2 THEN EXCLUDED.quiet_end ELSE notification_settings.quiet_end END,
            daily_cap = COALESCE($5, notification_settings.daily_cap), updated_at = now()`,
        [userId, quiet !== undefined, quiet == null ? null : minutesOf(quiet.start), quiet == null ? null : minutesOf(quiet.end), patch.dailyCap ?? null])
      }
      return await get(userId, tx)
    })
  }

  return { get, update }
}
