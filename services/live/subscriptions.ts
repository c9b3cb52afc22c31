import type { Redis } from 'ioredis'
import type { Feed } from './feed-state.ts'

// This instance's Redis subscriptions: a competition's channel is subscribed while it has
// clients here, and its messages are routed to its feed.

export interface SubscriptionsDeps {
  subscriber: Pick<Redis, 'subscribe' | 'unsubscribe' | 'on' | 'off' | 'connect' | 'status'>
  log: { warn: (obj: object, msg?: string) => void }
  // A frame published on a feed's channel.
  onMessage: (feed: Feed, message: string) => void
  // The subscriber reconnected: frames published meanwhile never arrive.
  onReconnected: (feeds: Iterable<Feed>) => void
}

export function createSubscriptions (deps: SubscriptionsDeps) {
  const { subscriber, log } = deps
  const byChannel = new Map<string, Feed>()
  let connecting: Promise<void> | null = null

  function onMessage (channel: string, message: string): void {
    const feed = byChannel.get(channel)
    if (feed) deps.onMessage(feed, message)
  }
  subscriber.on('message', onMessage)

  let wasReady = subscriber.status === 'ready'
  function onSubscriberReady (): void {
    if (wasReady) deps.onReconnected(byChannel.values())
    wasReady = true
  }
  subscriber.on('ready', onSubscriberReady)

  // Messages on the feed's channel go to it from now on (once subscribed).
  function track (feed: Feed): void {
    byChannel.set(feed.channel, feed)
  }

  function untrack (feed: Feed): void {
    byChannel.delete(feed.channel)
    subscriber.unsubscribe(feed.channel).catch((err) => log.warn({ err }, 'unsubscribe failed'))
  }

  // Resolves once the instance listens on the feed's channel (a failed attempt is retried by
  // the next caller).
  async function subscribe (feed: Feed): Promise<void> {
    if (feed.subscribed === null) {
      feed.subscribed = (async () => {
        if (subscriber.status === 'wait') {
          connecting ??= subscriber.connect().finally(() => { connecting = null })
          await connecting
        }
        await subscriber.subscribe(feed.channel)
      })()
      feed.subscribed.catch(() => { feed.subscribed = null })
    }
    await feed.subscribed
  }

  function close (): void {
    subscriber.off('message', onMessage)
    subscriber.off('ready', onSubscriberReady)
  }

  return { track, untrack, subscribe, channels: () => [...byChannel.keys()], close }
}
