import type { Redis } from 'ioredis'
import type { CreatedNotification } from './create.ts'
import type { Inbox } from './inbox.ts'

// New notifications reach their users' open WebSockets, on whichever instance holds them: the
// creating instance announces (id, user) pairs on a Redis channel, and each instance renders
// and sends the ones whose users it has sockets for. Best effort by design: the inbox is the
// record, a socket that was not open (or an announcement lost in a Redis blip) misses nothing
// the next inbox read does not show.

export interface LiveNotificationsDeps {
  publisher: Pick<Redis, 'publish'>
  subscriber: Pick<Redis, 'subscribe' | 'unsubscribe' | 'on' | 'off'>
  channel: string
  inbox: Pick<Inbox, 'views'>
  sockets: { hasUser: (userId: string) => boolean, sendToUser: (userId: string, message: string) => number }
  log: { warn: (obj: object, msg: string) => void }
}

export function createLiveNotifications (deps: LiveNotificationsDeps) {
  const { publisher, subscriber, channel, inbox, sockets, log } = deps

  async function deliver (pairs: Array<[string, string]>): Promise<void> {
    const ids = pairs.filter(([, userId]) => sockets.hasUser(userId)).map(([id]) => id)
    for (const view of await inbox.views(ids)) {
      const { userId, ...notification } = view
      sockets.sendToUser(userId, JSON.stringify({ type: 'notification', notification }))
    }
  }

  function onMessage (from: string, message: string): void {
    if (from !== channel) return
    let pairs: Array<[string, string]>
    try { pairs = JSON.parse(message) as Array<[string, string]> } catch { return }
    deliver(pairs).catch((err: unknown) => log.warn({ err }, 'notifications could not be sent to open sockets'))
  }

  return {
    publish (created: CreatedNotification[]): void {
      publisher.publish(channel, JSON.stringify(created.map((c) => [c.id, c.userId])))
        .catch((err: unknown) => log.warn({ err }, 'new notifications were not announced to open sockets'))
    },
    async start (): Promise<void> {
      subscriber.on('message', onMessage)
      await subscriber.subscribe(channel)
    },
    async close (): Promise<void> {
      subscriber.off('message', onMessage)
      await subscriber.unsubscribe(channel).catch(() => {})
    }
  }
}
