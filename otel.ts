// Loaded before the application (node --import ./otel.ts server.ts) so auto-instrumentation can
// patch http, pg and ioredis as they load. Does nothing unless an OTLP endpoint is configured.
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  const { NodeSDK } = await import('@opentelemetry/sdk-node')
  const { getNodeAutoInstrumentations } = await import('@opentelemetry/auto-instrumentations-node')
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
  // Route, hook and handler spans inside each request, added to every Fastify instance created.
  const { FastifyOtelInstrumentation } = await import('@fastify/otel')
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'health-competition-backend',
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true })
    ]
  })
  sdk.start()
  const shutdown = () => { sdk.shutdown().catch(() => {}) }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}
