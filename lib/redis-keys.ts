// Redis key builders. In a Redis Cluster a key's slot is decided by the part inside its first
// {...}, so every key of one competition carries the same hash tag and its multi-key
// commands, MULTI blocks and Lua scripts stay on one shard. On a single Redis the tag is
// just part of the name.

// `${prefix}{c:${competitionId}}:${suffix}`, e.g. hc:lb:{c:42}:scores.
export function competitionKey (prefix: string, competitionId: string, suffix: string): string {
  return `${prefix}{c:${competitionId}}:${suffix}`
}

// Same tag for a user's keys (caches, per-user counters) when several are used together.
export function userKey (prefix: string, userId: string, suffix: string): string {
  return `${prefix}{u:${userId}}:${suffix}`
}

// The hash tag Redis Cluster would use for a key ('' when it has none), for tests and checks.
export function hashTag (key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return ''
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : ''
}

// The keys of one competition's leaderboard projection, by name (their roles are described in
// services/leaderboard/scripts/lua.ts). Every one carries the competition's hash tag.
export interface LeaderboardKeys {
  meta: string
  scores: string
  members: string
  names: string
  pending: string
  framed: string
  seq: string
  frames: string
  tick: string
}

export function leaderboardKeys (prefix: string, competitionId: string): LeaderboardKeys {
  const key = (name: string) => competitionKey(prefix, competitionId, `lb:${name}`)
  return {
    meta: key('meta'),
    scores: key('scores'),
    members: key('members'),
    names: key('names'),
    pending: key('pending'),
    framed: key('framed'),
    seq: key('seq'),
    frames: key('frames'),
    tick: key('tick')
  }
}

// The pub/sub channel carrying a competition's frames (same hash tag as its keys).
export function leaderboardChannel (prefix: string, competitionId: string): string {
  return competitionKey(prefix, competitionId, 'lb:feed')
}

// One channel for all competitions: a message (a competition id) says its projection changed.
export function leaderboardChangesChannel (prefix: string): string {
  return `${prefix}lb:changes`
}

// New notifications, for the instances holding their users' WebSockets.
export function notificationsChannel (prefix: string): string {
  return `${prefix}notifications:new`
}
