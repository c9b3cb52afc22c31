import fp from 'fastify-plugin'
import promClient from '@prometheus-io/client'
import { createTokenCipher, parseKeyRing } from '../lib/token-cipher.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { createProviderHttp, type ProviderHttp } from '../services/providers/cloud/http.ts'
import { configuredProviders } from '../services/providers/cloud/registry.ts'
import { PROVIDER_LABELS, type CloudProvider, type CloudProviderName } from '../services/providers/cloud/types.ts'
import { createConnectionStore } from '../services/connections/store.ts'
import { createTokenKeeper } from '../services/connections/tokens.ts'
import { createProviderSync, PROVIDER_RECONCILE_QUEUE, PROVIDER_SYNC_QUEUE, type ProviderSyncJob } from '../services/connections/sync.ts'
import { createInboundWebhooks } from '../services/connections/inbound.ts'
import { createConnectionsService } from '../services/connections/service.ts'
import type { OAuthClient } from '../services/connections/oauth.ts'

declare module 'fastify' {
  interface FastifyInstance {
    connections: ReturnType<typeof createConnectionsService> & {
      receiveWebhook: ReturnType<typeof createInboundWebhooks>
      reconcile: () => Promise<number>
    }
  }
}

// Cloud fitness providers: OAuth connections, inbound webhooks and the jobs that fetch and
// ingest their data. Providers without credentials are off; with none on, nothing here needs
// a token key.
export default fp(async function connectionsWiring (fastify) {
  const { config, jobs } = fastify
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const webhooks = new promClient.Counter<'provider' | 'outcome'>({
    name: 'fitness_provider_webhooks_total',
    help: 'Webhook requests from cloud fitness providers, by provider and outcome (handshake, refused, accepted, unknown_user)',
    labelNames: ['provider', 'outcome'],
    registers: [fastify.metricsRegistry]
  })

  // One HTTP client (and so one circuit breaker) per provider, for its data and its token endpoint.
  const clientsByName = new Map<CloudProviderName, ProviderHttp>()
  const httpFor = (name: CloudProviderName): ProviderHttp => {
    const existing = clientsByName.get(name)
    if (existing !== undefined) return existing
    const http = createProviderHttp({ label: PROVIDER_LABELS[name], ...fastify.providerPolicy(name, PROVIDER_LABELS[name]) })
    clientsByName.set(name, http)
    return http
  }
  const configured = configuredProviders(config, httpFor)
  if (configured.length > 0 && config.PROVIDER_TOKEN_KEYS === '') {
    throw new Error(`PROVIDER_TOKEN_KEYS is required when a cloud fitness provider is configured (${configured.map((c) => c.provider.name).join(', ')}): tokens are encrypted at rest`)
  }
  // Without providers no token is ever sealed; a throwaway key keeps the code paths the same.
  const cipher = createTokenCipher(configured.length > 0 ? parseKeyRing(config.PROVIDER_TOKEN_KEYS) : new Map([['none', Buffer.alloc(32)]]))
  const store = createConnectionStore(cipher)
  const providers: Partial<Record<CloudProviderName, CloudProvider>> = {}
  const clients: Partial<Record<CloudProviderName, OAuthClient>> = {}
  // Providers redirect the user's browser to an absolute URL of ours.
  const publicUrl = config.PUBLIC_URL !== '' ? config.PUBLIC_URL : `http://${config.HOST}:${config.PORT}`
  if (configured.length > 0 && config.PUBLIC_URL === '') fastify.log.warn({ publicUrl }, 'PUBLIC_URL is not set: OAuth redirects go to the listening address')
  for (const { provider, credentials } of configured) {
    providers[provider.name] = provider
    clients[provider.name] = {
      provider,
      credentials,
      http: httpFor(provider.name),
      redirectUri: `${publicUrl}/api/v1/connections/${provider.name}/callback`
    }
  }
  const now = () => new Date()
  const tokens = createTokenKeeper({ pool, transact, store, clients, now })
  const ingest = fastify.fitness.ingest
  const sync = createProviderSync({
    pool,
    jobs,
    store,
    tokens,
    providers,
    ingest,
    batchMax: config.FITNESS_SYNC_BATCH_MAX,
    backfillDays: config.PROVIDER_BACKFILL_DAYS,
    reconcileDays: config.PROVIDER_RECONCILE_DAYS,
    now
  })
  const service = createConnectionsService({
    pool, transact, store, sync, clients, ingest, batchMax: config.FITNESS_SYNC_BATCH_MAX, stateTtlMs: config.PROVIDER_OAUTH_STATE_TTL_SECONDS * 1000, now
  })
  const receiveWebhook = createInboundWebhooks({
    pool, store, sync, providers, onReceived: (provider, outcome) => webhooks.inc({ provider, outcome })
  })
  fastify.decorate('connections', { ...service, receiveWebhook, reconcile: sync.reconcile })

  // One job per user and thing to fetch; a repeat while one waits is dropped (the waiting one
  // fetches the newer data).
  await jobs.work<ProviderSyncJob>(PROVIDER_SYNC_QUEUE, { policy: 'stately' }, async (job) => { await sync.run(job) })
  await jobs.work(PROVIDER_RECONCILE_QUEUE, { batchSize: 1 }, async () => { await sync.reconcile() })
  if (config.JOB_WORKERS && configured.length > 0) {
    await jobs.boss.schedule(PROVIDER_RECONCILE_QUEUE, config.PROVIDER_RECONCILE_CRON, null, { tz: 'UTC' })
  }
  if (configured.length > 0) {
    const resealed = await service.resealTokens(cipher.currentKeyId)
    if (resealed > 0) fastify.log.info({ resealed }, 'provider tokens re-sealed under the current key')
  }
}, { name: 'connections-service', dependencies: ['postgres', 'jobs', 'observability', 'fitness-service'] })
