// What a notification is about decides where it may go and when.

export const CATEGORIES = ['rank', 'competition', 'results', 'money', 'security'] as const
export type Category = typeof CATEGORIES[number]
export const CHANNELS = ['push', 'email', 'sms'] as const
export type Channel = typeof CHANNELS[number]

// The defaults a user starts with; a stored preference overrides one cell.
export const DEFAULT_PREFERENCES: Record<Category, Record<Channel, boolean>> = {
  rank: { push: true, email: false, sms: false },
  competition: { push: true, email: false, sms: false },
  results: { push: true, email: true, sms: false },
  money: { push: true, email: true, sms: false },
  security: { push: true, email: true, sms: true }
}

// Money and security are never held by quiet hours or a daily cap; the rest is routine.
export function isRoutine (category: Category): boolean {
  return category !== 'money' && category !== 'security'
}

// SMS costs money per message and interrupts: only money and security ever use it.
export function channelAllowed (category: Category, channel: Channel): boolean {
  return channel !== 'sms' || !isRoutine(category)
}
