import promClient from '@prometheus-io/client'

// Every business metric of the service, by domain, in one list: the names dashboards and alert
// rules read. Each domain's set is registered once per instance by its wiring plugin.
type Registry = promClient.Registry

function counter<L extends string = never> (registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
  return new promClient.Counter<L>({ name, help, labelNames, registers: [registry] })
}

function gauge<L extends string = never> (registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
  return new promClient.Gauge<L>({ name, help, labelNames, registers: [registry] })
}

export function fitnessMetrics (registry: Registry) {
  return {
    syncs: counter(registry, 'fitness_syncs_total', 'Fitness syncs by source and outcome (ok, invalid, conflict, unavailable, error)', ['source', 'outcome']),
    samples: counter(registry, 'fitness_samples_ingested_total', 'Fitness records received, by source and result (inserted, replaced, unchanged, deleted)', ['source', 'result']),
    flags: counter(registry, 'fitness_flags_raised_total', 'Anti-cheat flags raised, by reason', ['reason']),
    providerCalls: counter(registry, 'fitness_provider_requests_total', 'HTTP requests to fitness providers, by provider and outcome (ok, retryable, rejected, timeout, error)', ['provider', 'outcome']),
    circuit: gauge(registry, 'fitness_provider_circuit_state', 'Circuit breaker state per provider: 0 closed, 1 open, 2 half-open', ['provider'])
  }
}

export function leaderboardMetrics (registry: Registry) {
  return {
    scoreUpdates: counter(registry, 'leaderboard_score_updates_total', 'Score changes by outcome (applied, duplicate, unchanged, rejected reasons)', ['result']),
    reads: counter(registry, 'leaderboard_reads_total', 'Leaderboard reads by source (memory: an unchanged projection read before, redis, or postgres when degraded)', ['source']),
    rebuilds: counter(registry, 'leaderboard_rebuilds_total', 'Rebuilds of a competition\'s Redis projection from Postgres', ['outcome'])
  }
}

export function liveFeedMetrics (registry: Registry) {
  return {
    connections: gauge(registry, 'realtime_connections', 'Open leaderboard WebSockets on this instance'),
    frames: counter(registry, 'realtime_frames_sent_total', 'Frames sent to WebSocket clients, by type', ['type']),
    slowConsumers: counter(registry, 'realtime_slow_consumers_total', 'WebSockets closed because their send buffer grew past the limit')
  }
}

export function prizeMetrics (registry: Registry) {
  return {
    payouts: counter(registry, 'prize_payouts_total', 'Prizes paid to winners', ['currency']),
    paidAmount: counter(registry, 'prize_paid_minor_units_total', 'Prize money paid to winners, in minor units', ['currency'])
  }
}

export function jobMetrics (registry: Registry) {
  return {
    outcomes: counter(registry, 'jobs_total', 'Jobs run on this instance, by queue and outcome (completed, failed: retried or dead-lettered)', ['queue', 'outcome']),
    duration: new promClient.Histogram<'queue'>({ name: 'job_duration_seconds', help: 'Time a job\'s handler ran, by queue', labelNames: ['queue'], buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60], registers: [registry] }),
    relayed: counter(registry, 'domain_events_relayed_total', 'Domain events handed from the outbox to the job queue by this instance')
  }
}

export function webhookMetrics (registry: Registry) {
  return {
    attempts: counter(registry, 'webhook_delivery_attempts_total', 'Webhook delivery attempts by outcome (delivered, failed: retried later, given_up: retries spent, endpoint disabled)', ['outcome']),
    disabled: counter(registry, 'webhook_endpoints_disabled_total', 'Webhook endpoints disabled after a delivery spent its retries')
  }
}

export function paymentMetrics (registry: Registry) {
  return {
    reconciliationDifferences: gauge(registry, 'payments_reconciliation_differences', 'Differences between the ledger and the payment gateway found by the latest reconciliation run'),
    reconciliationLastRun: gauge(registry, 'payments_reconciliation_last_run_timestamp_seconds', 'When the latest reconciliation run finished (unix seconds)')
  }
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>
export type FitnessMetrics = ReturnType<typeof fitnessMetrics>

export function notificationMetrics (registry: Registry) {
  return {
    created: counter(registry, 'notifications_created_total', 'Notifications added to users\' inboxes, by category', ['category']),
    deliveries: counter(registry, 'notification_deliveries_total', 'Notification deliveries by channel, provider and outcome (sent, failed, retried)', ['channel', 'provider', 'outcome'])
  }
}
