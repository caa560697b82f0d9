// OpenTelemetry traces: one server span per /v1 request, one client span per upstream attempt
// (GenAI semantic conventions + tiergate.* attributes), W3C traceparent accepted from the
// client and sent upstream. Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP/HTTP) or an
// exporter is passed in (tests: the SDK's InMemorySpanExporter). The tracer provider belongs
// to this app, never the global one (tests and embedders run several apps in one process);
// only the context manager is process-wide (AsyncLocalStorage: stateless, shared by all).
// Prompt and completion text only with OTEL_CAPTURE_CONTENT=1; headers are never recorded.
// Decorates nothing; depends on `events` (attempts, usage, stream ends, resumes) and `registry`.
// OpenTelemetry is loaded only when tracing is on (dynamic imports below): its SDK and OTLP
// exporter cost ~15 MB of RSS that a gateway without traces should not pay (issue 14).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace'
import type { RequestTrace } from './telemetry/trace.ts'
import { installTraceHeaders } from './telemetry/attempt-headers.ts'
import { createRedactor } from './redact.ts'

export interface TelemetryOptions {
  /** A span exporter to use instead of OTLP (tests); spans are then exported one by one, at once. */
  spanExporter?: SpanExporter
}

declare module 'fastify' {
  interface FastifyRequest {
    requestTrace: RequestTrace | undefined
  }
}

/** Only the API is traced: probes, metrics and static pages would drown the useful spans. */
const TRACED_ROUTE = /^\/v1\//

let contextManagerInstalled = false
async function installContextManager(): Promise<void> {
  if (contextManagerInstalled) return
  contextManagerInstalled = true
  const [{ context }, { AsyncLocalStorageContextManager }, { traceHeaders }] = await Promise.all([
    import('@opentelemetry/api'), import('@opentelemetry/context-async-hooks'), import('./telemetry/trace.ts'),
  ])
  // false when the embedding program set its own: then that one carries our context.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  installTraceHeaders(traceHeaders)
}

export default fp<TelemetryOptions>(async function telemetry(app: FastifyInstance, options) {
  const { endpoint, headers, serviceName, captureContent } = app.config.telemetry
  app.decorateRequest('requestTrace', undefined)
  if (!options.spanExporter && !endpoint) return
  const [{ context }, { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider }, { OTLPTraceExporter }, { resourceFromAttributes }, { ATTR_SERVICE_NAME }, { RequestTrace, currentTrace }, attributes] = await Promise.all([
    import('@opentelemetry/api'), import('@opentelemetry/sdk-trace'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'), import('./telemetry/trace.ts'), import('./telemetry/attributes.ts'),
  ])
  const { ATTR_TIERGATE_RESUME, outputAttributes, requestAttributes, serverEndAttributes, serverStartAttributes, usageAttributes } = attributes
  const exporter = options.spanExporter ?? new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, headers })
  await installContextManager()

  const processor: SpanProcessor = options.spanExporter ? new SimpleSpanProcessor({ exporter }) : new BatchSpanProcessor({ exporter })
  const provider = new TracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }), spanProcessors: [processor] })
  const tracer = provider.getTracer('tiergate')
  const redact = createRedactor(app.config.secrets)
  const byRequestId = new Map<string, RequestTrace>()
  const origins = new Map<string, string | undefined>()
  const originOf = (name: string) => {
    if (!origins.has(name)) {
      const base = app.providers.get(name)?.settings.baseUrl
      origins.set(name, base ? new URL(base).origin : undefined)
    }
    return origins.get(name)
  }
  // Events are emitted inside the request's async context; a stream's end may be pulled from
  // another one (a socket drain), hence the request-id lookup as well.
  const traceOf = (requestId: string | undefined) => currentTrace() ?? (requestId === undefined ? undefined : byRequestId.get(requestId))

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url
    if (!route || !TRACED_ROUTE.test(route)) return done()
    const trace = new RequestTrace(tracer, `${request.method} ${route}`, request.headers, serverStartAttributes(request.method, route), originOf)
    request.requestTrace = trace
    byRequestId.set(request.id, trace)
    context.with(trace.context, done)
  })
  // Body parsing runs in the socket's context, not the request's: enter it again for the handler.
  app.addHook('preHandler', (request: FastifyRequest, _reply, done) => {
    const trace = request.requestTrace
    if (!trace) return done()
    trace.span.setAttributes(requestAttributes(request.body, captureContent, redact))
    context.with(trace.context, done)
  })
  if (captureContent) {
    app.addHook('onSend', async (request, _reply, payload) => {
      request.requestTrace?.span.setAttributes(outputAttributes(payload, redact))
      return payload
    })
  }
  app.addHook('onResponse', (request, reply, done) => {
    const trace = request.requestTrace
    if (trace) {
      byRequestId.delete(request.id)
      trace.end(serverEndAttributes(reply.statusCode, reply.getHeaders()), reply.statusCode >= 500)
    }
    done()
  })

  app.events.on('attempt', (e) => traceOf(e.requestId)?.attemptEnded(e))
  app.events.on('usage', (e) => traceOf(undefined)?.usage(usageAttributes(e.usage)))
  app.events.on('stream_end', (e) => traceOf(e.requestId)?.streamEnded(e))
  app.events.on('resume', (e) => traceOf(e.requestId)?.resumed({ [ATTR_TIERGATE_RESUME]: e.outcome, 'tiergate.resume.from': e.from, 'tiergate.resume.to': e.to ?? '', 'tiergate.resume.strategy': e.strategy ?? '' }))

  app.addHook('onClose', async () => {
    await provider.shutdown() // flushes what the batch still holds
  })
  app.log.debug({ endpoint: endpoint ?? 'injected exporter', captureContent }, 'tracing on')
}, { name: 'telemetry', dependencies: ['events', 'registry'] })
