// One request's trace: its server span, and one client span per upstream attempt. The trace
// rides in the OpenTelemetry context (AsyncLocalStorage), so the upstream transport can find
// it without being handed anything: `traceHeaders(url)` starts the attempt's client span and
// returns the `traceparent` to send — the upstream's own spans then hang under that attempt.
// The router's `attempt` event (which carries outcome and timing) completes the span.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, createContextKey, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions'
import type { AttemptEvent, StreamEndEvent } from '../events.ts'
import { ATTR_TIERGATE_FALLBACK_REASON, attemptAttributes, modelName, usageAttributes } from './attributes.ts'

const REQUEST_TRACE = createContextKey('tiergate.requestTrace')
export const propagator = new W3CTraceContextPropagator()

const headerGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const value = carrier[key]
    return Array.isArray(value) ? value.map(String) : value === undefined ? undefined : String(value)
  },
}
const headerSetter = { set: (carrier: Record<string, string>, key: string, value: string) => { carrier[key] = value } }

interface OpenAttempt {
  span: Span
  origin: string | undefined
}

export class RequestTrace {
  readonly span: Span
  readonly context: Context
  readonly #tracer: Tracer
  /** Client spans started by the transport and not yet completed by an `attempt` event. */
  readonly #open: OpenAttempt[] = []
  /** A committed stream's attempt: ended by `stream_end`, with its usage. */
  #streaming: Span | undefined
  #fallbackReason: string | undefined
  readonly #origins: (provider: string) => string | undefined

  constructor(tracer: Tracer, name: string, headers: Record<string, unknown>, attributes: Attributes, origins: (provider: string) => string | undefined) {
    this.#tracer = tracer
    this.#origins = origins
    // A client's traceparent makes this request part of its trace; otherwise a new trace starts.
    const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter)
    this.span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent)
    this.context = trace.setSpan(parent, this.span).setValue(REQUEST_TRACE, this)
  }

  /** The transport is about to call `url`: a client span for it, and the headers that carry it. */
  startAttempt(url: URL): Record<string, string> {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    const span = this.#tracer.startSpan('chat', { kind: SpanKind.CLIENT, attributes: { [ATTR_SERVER_ADDRESS]: url.hostname, [ATTR_SERVER_PORT]: port } }, this.context)
    this.#open.push({ span, origin: url.origin })
    const headers: Record<string, string> = {}
    propagator.inject(trace.setSpan(this.context, span), headers, headerSetter)
    return headers
  }

  /**
   * The router reports an attempt. It completes the client span the transport started for the
   * same provider (attempts may overlap when hedged), or — for a provider without HTTP (the
   * in-process model) or an attempt refused before any call — records one with the event's timing.
   */
  attemptEnded(e: AttemptEvent): void {
    // The first thing that went wrong is why the request fell back (if it was answered at all).
    if (e.outcome !== 'success' && !this.#fallbackReason) {
      this.#fallbackReason = e.outcome
      this.span.setAttribute(ATTR_TIERGATE_FALLBACK_REASON, e.outcome)
    }
    // An open breaker or a provider that cannot serve made no call: a span event, not a span.
    if (e.outcome === 'breaker_open' || e.outcome === 'unsupported' || e.outcome === 'cooling_down') {
      this.span.addEvent('tiergate.skipped', { 'gen_ai.provider.name': e.provider, 'tiergate.reason': e.outcome })
      return
    }
    const origin = this.#origins(e.provider)
    const index = this.#open.findIndex((o) => o.origin === origin)
    const found = this.#open.splice(index >= 0 ? index : 0, this.#open.length > 0 ? 1 : 0)[0]
    const span = found?.span ?? this.#tracer.startSpan('chat', { kind: SpanKind.CLIENT, startTime: Date.now() - e.latencyMs }, this.context)
    span.updateName(`chat ${modelName(e.model)}`)
    span.setAttributes(attemptAttributes(e))
    if (e.outcome !== 'success') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.outcome })
      span.end()
      return
    }
    if (e.stream) this.#streaming = span // its answer is still coming
    else span.end()
  }

  usage(attributes: Attributes): void {
    this.span.setAttributes(attributes)
  }

  streamEnded(e: StreamEndEvent): void {
    const span = this.#streaming
    this.#streaming = undefined
    const usage = usageAttributes(e.usage)
    this.span.setAttributes(usage)
    if (!span) return
    span.setAttributes(usage)
    span.setAttribute('tiergate.stream.outcome', e.outcome)
    if (e.outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'stream failed after commit' })
    span.end()
  }

  resumed(attributes: Attributes): void {
    this.span.setAttributes(attributes)
    this.span.addEvent('tiergate.resume', attributes)
  }

  /** The response is done: anything still open (a client that left mid-stream) ends with it. */
  end(attributes: Attributes, failed: boolean): void {
    for (const { span } of this.#open.splice(0)) span.end()
    this.#streaming?.end()
    this.#streaming = undefined
    this.span.setAttributes(attributes)
    if (failed) this.span.setStatus({ code: SpanStatusCode.ERROR })
    this.span.end()
  }
}

/** The trace of the request whose async work is running now, if tracing is on. */
export function currentTrace(): RequestTrace | undefined {
  return context.active().getValue(REQUEST_TRACE) as RequestTrace | undefined
}

/**
 * For the upstream transport: the W3C trace headers of a new attempt span, or none when no
 * request is being traced (tracing off, discovery calls). Never throws.
 */
export function traceHeaders(url: URL): Record<string, string> {
  try {
    return currentTrace()?.startAttempt(url) ?? {}
  } catch {
    return {}
  }
}
