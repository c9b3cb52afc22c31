import pg from 'pg'

// One LISTEN connection per instance for every channel it follows (the outbox relay's wake-up
// and the job queue's new-job notices). It reconnects by itself, LISTENs again and tells each
// subscriber, who then looks for what it may have missed. Its client keeps its error listener
// for life: a server that shuts down sends a FATAL error to every session, and an error event
// with no listener would end the process.

type Notify = (payload: string) => void

interface Subscription { onNotification: Notify, onReconnect?: () => void }

export interface PgListener {
  listen: (channel: string, onNotification: Notify, onReconnect?: () => void) => Promise<{ close: () => Promise<void> }>
  close: () => Promise<void>
}

export function createPgListener ({ connectionString, log, retryMs = 1000 }: {
  connectionString: string
  log: { warn: (obj: object, msg: string) => void }
  retryMs?: number
}): PgListener {
  const channels = new Map<string, Set<Subscription>>()
  let client: pg.Client | null = null
  let connecting: Promise<void> | null = null
  let retry: NodeJS.Timeout | null = null
  let closed = false

  function lost (c: pg.Client, err?: Error): void {
    if (client !== c) return
    client = null
    if (err) log.warn({ err }, 'LISTEN connection lost; reconnecting')
    c.end().catch(() => {})
    scheduleReconnect()
  }

  function scheduleReconnect (): void {
    if (closed || retry !== null) return
    retry = setTimeout(() => {
      retry = null
      connect().then(() => {
        for (const subs of channels.values()) for (const s of subs) s.onReconnect?.()
      }, () => scheduleReconnect())
    }, retryMs)
    retry.unref()
  }

  async function open (): Promise<void> {
    const c = new pg.Client({ connectionString, application_name: 'listener', keepAlive: true })
    c.on('error', (err) => lost(c, err))
    c.on('end', () => lost(c))
    c.on('notification', (message) => {
      for (const s of channels.get(message.channel) ?? []) s.onNotification(message.payload ?? '')
    })
    await c.connect()
    for (const channel of channels.keys()) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    if (closed) { await c.end(); return }
    client = c
  }

  async function connect (): Promise<void> {
    connecting ??= open().finally(() => { connecting = null })
    await connecting
  }

  return {
    async listen (channel, onNotification, onReconnect) {
      const subscription = { onNotification, onReconnect }
      const isNew = !channels.has(channel)
      const subs = channels.get(channel) ?? new Set()
      subs.add(subscription)
      channels.set(channel, subs)
      // Not connected (the server is away): the subscription waits for the reconnection.
      try {
        if (connecting !== null) await connecting
        if (client === null) await connect()
        else if (isNew) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      } catch (err) {
        log.warn({ err }, 'LISTEN failed; retrying')
        scheduleReconnect()
      }
      return {
        async close () {
          subs.delete(subscription)
          if (subs.size > 0) return
          channels.delete(channel)
          await client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {})
        }
      }
    },
    async close () {
      closed = true
      if (retry !== null) clearTimeout(retry)
      const c = client
      client = null
      await c?.end().catch(() => {})
    }
  }
}
