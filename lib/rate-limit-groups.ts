import type { Config } from '../schemas/env.ts'

// Route groups with budgets of their own, so a caller who spends their reads can still write,
// and an expensive endpoint cannot eat the budget of cheap ones. Each group is counted once
// per caller across all its routes and all instances.
export type RateLimitGroup = 'read' | 'write' | 'sync' | 'realtime'

export function rateLimitGroup (method: string, url: string): RateLimitGroup {
  if (url.startsWith('/ws/')) return 'realtime'
  if (url === '/api/v1/fitness/sync') return 'sync'
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write'
}

// Requests per window for each group; a group set to 0 uses RATE_LIMIT_MAX.
export function rateLimitBudgets (config: Pick<Config, 'RATE_LIMIT_MAX' | 'RATE_LIMIT_WRITE_MAX' | 'RATE_LIMIT_SYNC_MAX' | 'RATE_LIMIT_REALTIME_MAX'>): Record<RateLimitGroup, number> {
  const or = (n: number) => n > 0 ? n : config.RATE_LIMIT_MAX
  return {
    read: config.RATE_LIMIT_MAX,
    write: or(config.RATE_LIMIT_WRITE_MAX),
    sync: or(config.RATE_LIMIT_SYNC_MAX),
    realtime: or(config.RATE_LIMIT_REALTIME_MAX)
  }
}
