// Tracing must be set up before pg, ioredis and fastify are loaded, so this file registers the
// instrumentations first and imports the app (through the test helper) afterwards.
import { test } from 'tap'
import { context, propagation, trace, SpanKind } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis'
import { FastifyOtelInstrumentation } from '@fastify/otel'

const exporter = new InMemorySpanExporter()
const processor = new SimpleSpanProcessor({ exporter })
const provider = new TracerProvider({ spanProcessors: [processor] })
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
trace.setGlobalTracerProvider(provider)
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [
    new HttpInstrumentation(),
    new PgInstrumentation(),
    new IORedisInstrumentation(),
    new FastifyOtelInstrumentation({ registerOnInitialization: true })
  ]
})

const { build } = await import('../helper.ts')

test('one request is one trace with HTTP, Fastify, Postgres and Redis spans', async (t) => {
  const app = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  exporter.reset()

  // Readiness touches both stores in one request. A traceparent from the caller is honoured.
  const callerTraceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const res = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    headers: { traceparent: `00-${callerTraceId}-00f067aa0ba902b7-01` }
  })
  t.equal(res.status, 200)
  await res.arrayBuffer()
  // The server span ends once the response is flushed; wait for it rather than race it.
  for (let i = 0; i < 50 && !exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await processor.forceFlush()

  const spans = exporter.getFinishedSpans()
  const inTrace = spans.filter((s) => s.spanContext().traceId === callerTraceId)
  t.ok(inTrace.length >= 4, `${inTrace.length} spans in the caller's trace`)
  const names = inTrace.map((s) => `${s.instrumentationScope.name}: ${s.name}`)
  t.comment(names.join('\n'))

  const http = inTrace.find((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-http' && s.kind === SpanKind.SERVER)
  t.ok(http, 'an HTTP server span')
  t.equal(http?.attributes['http.route'] ?? http?.attributes['http.target'] ?? '/health/ready', '/health/ready')
  t.equal(http?.parentSpanContext?.spanId, '00f067aa0ba902b7', 'the HTTP span continues the caller\'s trace')

  const request = inTrace.find((s) => s.instrumentationScope.name === '@fastify/otel' && /request/i.test(s.name))
  t.ok(request, 'a Fastify request span')
  const pg = inTrace.filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-pg' && s.kind === SpanKind.CLIENT)
  t.ok(pg.some((s) => /SELECT/.test(String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? s.name))), 'a Postgres query span')
  const redis = inTrace.filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-ioredis')
  t.ok(redis.some((s) => /ping/i.test(s.name)), 'a Redis command span')

  // Every span hangs under the HTTP span: one tree, not loose fragments.
  const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]))
  const root = (s: ReadableSpan): ReadableSpan => {
    const parent = s.parentSpanContext?.spanId ? byId.get(s.parentSpanContext.spanId) : undefined
    return parent ? root(parent) : s
  }
  for (const s of [...pg, ...redis, request].filter((x): x is ReadableSpan => x !== undefined)) {
    t.equal(root(s), http, `${s.name} descends from the HTTP span`)
  }
  // No credentials in span attributes.
  t.notMatch(JSON.stringify(inTrace.map((s) => s.attributes)), /postgres:\/\/[^@]*:[^@]*@|authorization/i)
})
