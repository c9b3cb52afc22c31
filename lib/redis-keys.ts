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
