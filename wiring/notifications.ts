import fp from 'fastify-plugin'
import { createTransactor } from '../services/shared/transactions.ts'
import { notificationMetrics } from '../services/shared/metrics.ts'
import { notificationsChannel } from '../lib/redis-keys.ts'
import { SEND_QUEUE, type SendJob } from '../services/notifications/create.ts'
import { createDispatcher, RECEIPTS_QUEUE } from '../services/notifications/dispatch.ts'
import { createInbox, type Inbox } from '../services/notifications/inbox.ts'
import { createDevices } from '../services/notifications/devices.ts'
import { createPreferences } from '../services/notifications/preferences.ts'
import { createLiveNotifications } from '../services/notifications/live.ts'
import { createSendRate } from '../services/notifications/send-rate.ts'
import { channelsOf, createSenders } from '../services/notifications/senders.ts'
import { createTriggers, REMINDERS_QUEUE, type Reminder } from '../services/notifications/triggers.ts'
import type { Channel } from '../services/notifications/categories.ts'

declare module 'fastify' {
  interface FastifyInstance {
    notifications: {
      inbox: Inbox
      devices: ReturnType<typeof createDevices>
      preferences: ReturnType<typeof createPreferences>
      // The channels this instance has providers for.
      channels: Channel[]
    }
  }
}

// Notifications: a durable consumer of the domain's events writes inbox rows and queued
// deliveries; send jobs carry batches of deliveries to the providers; reminders are jobs
// scheduled for their time; new inbox rows reach open WebSockets over Redis.
export default fp(async function notificationsWiring (fastify) {
  const { config, log } = fastify
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const metrics = notificationMetrics(fastify.metricsRegistry)
  const senders = await createSenders(config)
  const channels = channelsOf(senders)

  const inbox = createInbox({ db: pool })
  const live = createLiveNotifications({
    publisher: fastify.redis,
    subscriber: fastify.redisSubscriber,
    channel: notificationsChannel(fastify.redisPrefix),
    inbox,
    sockets: fastify.broadcaster,
    log
  })
  const dispatcher = createDispatcher({
    transact,
    db: pool,
    jobs: fastify.jobs,
    senders,
    metrics,
    log,
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    retryBaseSeconds: config.NOTIFY_RETRY_BASE_SECONDS,
    receiptDelaySeconds: config.EXPO_RECEIPT_DELAY_SECONDS,
    rate: createSendRate(config.NOTIFY_SEND_RATE)
  })
  const triggers = createTriggers({
    transact,
    jobs: fastify.jobs,
    channels,
    rank: { top: config.NOTIFY_TOP_N, overtakenPerMover: config.NOTIFY_OVERTAKEN_PER_MOVER, windowSeconds: config.NOTIFY_RANK_WINDOW_SECONDS },
    reminderLeadMinutes: config.NOTIFY_REMINDER_LEAD_MINUTES,
    onCreated (created, category) {
      metrics.created.inc({ category }, created.length)
      live.publish(created)
    }
  })
  fastify.decorate('notifications', { inbox, devices: createDevices({ db: pool }), preferences: createPreferences({ db: pool, transact }), channels })

  for (const consumer of triggers.consumers) await fastify.jobs.consume(consumer)
  // A send job is a batch of up to 500 provider calls: few at a time, so a competition of
  // 100,000 finishing never takes the database or the event loop from the API.
  await fastify.jobs.work<SendJob>(SEND_QUEUE, { concurrency: config.NOTIFY_SEND_CONCURRENCY, batchSize: 1, pollingIntervalSeconds: 1 },
    async (job) => { await dispatcher.handle(job) })
  await fastify.jobs.work<{ tickets: Array<{ id: string, token: string }> }>(RECEIPTS_QUEUE, {},
    async (job) => { await dispatcher.checkReceipts(job.tickets) })
  await fastify.jobs.work<Reminder>(REMINDERS_QUEUE, { policy: 'exclusive' }, async (reminder) => { await triggers.remind(reminder) })

  fastify.addHook('onReady', async () => { await live.start() })
  fastify.addHook('onClose', async () => {
    await live.close()
    await Promise.all([senders.fcm, senders.expo, senders.email, senders.sms].map(async (s) => await s?.close?.()))
  })
}, { name: 'notifications', dependencies: ['config', 'postgres', 'redis', 'jobs', 'broadcaster', 'observability'] })
