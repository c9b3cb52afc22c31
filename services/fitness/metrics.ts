import promClient from '@prometheus-io/client'

// Business metrics of the fitness domain, registered in the instance's registry.
export function createFitnessMetrics (registry: promClient.Registry) {
  const registers = [registry]
  return {
    syncs: new promClient.Counter({
      name: 'fitness_syncs_total',
      help: 'Fitness syncs by source and outcome (ok, invalid, conflict, unavailable, error)',
      labelNames: ['source', 'outcome'] as const,
      registers
    }),
    samples: new promClient.Counter({
      name: 'fitness_samples_ingested_total',
      help: 'Fitness records received, by source and result (inserted, replaced, unchanged, deleted)',
      labelNames: ['source', 'result'] as const,
      registers
    }),
    flags: new promClient.Counter({
      name: 'fitness_flags_raised_total',
      help: 'Anti-cheat flags raised, by reason',
      labelNames: ['reason'] as const,
      registers
    }),
    providerCalls: new promClient.Counter({
      name: 'fitness_provider_requests_total',
      help: 'HTTP requests to fitness providers, by provider and outcome (ok, retryable, rejected, timeout, error)',
      labelNames: ['provider', 'outcome'] as const,
      registers
    }),
    circuit: new promClient.Gauge({
      name: 'fitness_provider_circuit_state',
      help: 'Circuit breaker state per provider: 0 closed, 1 open, 2 half-open',
      labelNames: ['provider'] as const,
      registers
    })
  }
}

export type FitnessMetrics = ReturnType<typeof createFitnessMetrics>
