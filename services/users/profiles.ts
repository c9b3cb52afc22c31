import type { Redis } from 'ioredis'
import { errors } from '../../lib/errors.ts'
import type { Freshness } from '../shared/freshness.ts'
import type { Db } from '../shared/transactions.ts'

export interface Profile {
  id: string
  username: string | null
  displayName: string
  bio: string
  avatarUrl: string | null
  email: string | null
  timeZone: string
  units: 'metric' | 'imperial'
  locale: string
  phoneNumber: string | null
  createdAt: string
  updatedAt: string
}

export type PublicProfile = Pick<Profile, 'id' | 'username' | 'displayName' | 'bio' | 'avatarUrl'>

export interface ProfileUpdate {
  username?: string
  displayName?: string
  bio?: string
  timeZone?: string
  units?: 'metric' | 'imperial'
  locale?: string
  phoneNumber?: string | null
}

const PROFILE_COLUMNS = `id, username, display_name, bio, avatar_url, email, time_zone, units, locale, phone_number,
  to_json(created_at) #>> '{}' AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`
const CACHE_TTL_SECONDS = 300

const UPDATABLE: Record<keyof ProfileUpdate, string> = {
  username: 'username',
  displayName: 'display_name',
  bio: 'bio',
  timeZone: 'time_zone',
  units: 'units',
  locale: 'locale',
  phoneNumber: 'phone_number'
}

interface ProfileRow {
  id: string
  username: string | null
  display_name: string
  bio: string
  avatar_url: string | null
  email: string | null
  time_zone: string
  units: 'metric' | 'imperial'
  locale: string
  phone_number: string | null
  created_at: string
  updated_at: string
}

function toProfile (r: ProfileRow): Profile {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    bio: r.bio,
    avatarUrl: r.avatar_url,
    email: r.email,
    timeZone: r.time_zone,
    units: r.units,
    locale: r.locale,
    phoneNumber: r.phone_number,
    createdAt: new Date(r.created_at).toISOString(),
    // To the microsecond Postgres keeps: it is the profile's version (its ETag), and two changes
    // within one millisecond must not look alike.
    updatedAt: r.updated_at
  }
}

export function publicProfile ({ id, username, displayName, bio, avatarUrl }: Profile): PublicProfile {
  return { id, username, displayName, bio, avatarUrl }
}

// IANA names only, stored in their canonical spelling (e.g. "europe/paris" -> "Europe/Paris").
export function canonicalTimeZone (timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone
  } catch {
    throw errors.BadRequest(`timeZone "${timeZone}" is not an IANA time zone`)
  }
}

export interface UsersDeps {
  pool: Db
  redis: Pick<Redis, 'get' | 'set' | 'del' | 'publish'>
  redisPrefix: string
  // With it, profiles read before are answered from memory until a change is announced on
  // changesChannel (see freshness.ts); without it every read asks Redis.
  freshness?: Freshness<Profile>
  // Told after a name or avatar change, so other views (leaderboards) can refresh.
  onProfileChanged?: (userId: string) => void
}

export function profileChangesChannel (redisPrefix: string): string {
  return `${redisPrefix}user:changes`
}

export function createUsersService ({ pool, redis, redisPrefix, freshness, onProfileChanged }: UsersDeps) {
  const cacheKey = (userId: string): string => `${redisPrefix}user:profile:${userId}`
  const changesChannel = profileChangesChannel(redisPrefix)

  // The cache is a convenience: Redis trouble falls through to Postgres.
  async function cached (userId: string): Promise<Profile | null> {
    try {
      const hit = await redis.get(cacheKey(userId))
      return hit ? JSON.parse(hit) as Profile : null
    } catch {
      return null
    }
  }

  // Forgotten here at once, then in Redis, then announced so other instances forget it too.
  async function invalidate (userId: string): Promise<void> {
    freshness?.changed(userId)
    try {
      await redis.del(cacheKey(userId))
      await redis.publish(changesChannel, userId)
    } catch {
      // A stale entry expires with its TTL (and from memory within the freshness maximum age).
    }
  }

  async function loadProfile (userId: string): Promise<Profile> {
    const hit = await cached(userId)
    if (hit) return hit
    const { rows } = await pool.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL`, [userId])
    if (rows.length === 0) throw errors.NotFound('User not found')
    const profile = toProfile(rows[0]!)
    await redis.set(cacheKey(userId), JSON.stringify(profile), 'EX', CACHE_TTL_SECONDS).catch(() => {})
    return profile
  }

  // A deleted account (a tombstone) has no profile: 404.
  // The returned profile may be shared between requests: callers must not change it.
  async function getProfile (userId: string): Promise<Profile> {
    if (!freshness) return await loadProfile(userId)
    const known = freshness.current(userId)
    if (known !== null) return known
    const ticket = freshness.ticket(userId)
    const profile = await loadProfile(userId)
    freshness.confirm(userId, profile, ticket)
    return profile
  }

  async function updateProfile (userId: string, update: ProfileUpdate): Promise<Profile> {
    const changes = { ...update }
    if (changes.timeZone !== undefined) changes.timeZone = canonicalTimeZone(changes.timeZone)
    const fields = (Object.keys(UPDATABLE) as Array<keyof ProfileUpdate>).filter((k) => changes[k] !== undefined)
    const sets = fields.map((k, i) => `${UPDATABLE[k]} = $${i + 2}`)
    let rows: ProfileRow[]
    try {
      ({ rows } = await pool.query<ProfileRow>(`UPDATE users SET ${[...sets, 'updated_at = now()'].join(', ')}
        WHERE id = $1 AND deleted_at IS NULL RETURNING ${PROFILE_COLUMNS}`, [userId, ...fields.map((k) => changes[k])]))
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw errors.Conflict('Username is already taken')
      throw err
    }
    if (rows.length === 0) throw errors.NotFound('User not found')
    await invalidate(userId)
    if (changes.displayName !== undefined || changes.username !== undefined) onProfileChanged?.(userId)
    return toProfile(rows[0]!)
  }

  // Points the profile at a new avatar; returns the key of the one it replaced.
  async function setAvatar (userId: string, avatar: { key: string, url: string }): Promise<{ previousKey: string | null }> {
    const { rows } = await pool.query<{ previous_key: string | null }>(`UPDATE users u SET avatar_key = $2, avatar_url = $3, updated_at = now()
      FROM (SELECT avatar_key AS previous_key FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE) old
      WHERE u.id = $1 RETURNING old.previous_key`, [userId, avatar.key, avatar.url])
    if (rows.length === 0) throw errors.NotFound('User not found')
    await invalidate(userId)
    onProfileChanged?.(userId)
    return { previousKey: rows[0]!.previous_key }
  }

  return { getProfile, updateProfile, setAvatar, invalidate, publicProfile }
}

export type UsersService = ReturnType<typeof createUsersService>
