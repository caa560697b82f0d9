// Decorates `app.events`: what happened on the data path, for metrics, status and logs to
// subscribe to without the router knowing who listens. Scoped to one app instance.
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { FaultKind } from '../providers/upstream-error.ts'
import type { Usage } from '../providers/contract.ts'

export interface AttemptEvent {
  requestId: string
  provider: string
  tier: number
  model: string
  operation: 'chat' | 'embed'
  stream: boolean
  outcome: 'success' | FaultKind
  latencyMs: number
  /** Stream: time to the first chunk; non-stream: time to the whole answer. */
  firstByteMs: number | undefined
}

export interface RoutedEvent {
  requestId: string
  operation: 'chat' | 'embed'
  model: string
  outcome: 'success' | 'client_error' | 'failed'
  provider: string | undefined
  tier: number | undefined
  /** The tier of the first candidate, tried or skipped, to count fallbacks between tiers. */
  firstTier: number | undefined
  attempts: number
  /** Some candidate was skipped (open breaker, cannot serve, no free key) or failed first. */
  fallback: boolean
}

export interface StreamEndEvent {
  requestId: string
  provider: string
  tier: number
  outcome: 'complete' | 'failed' | 'aborted'
  usage: Usage | undefined
  /** From the start of the attempt to the end of the stream. */
  durationMs: number
}

export interface UsageEvent {
  provider: string
  tier: number
  usage: Usage
}

/** A client went over RATE_LIMIT_MAX (the request was answered 429). */
export interface RateLimitedEvent {
  route: string
}

export interface BreakerEvent {
  provider: string
  state: 'open' | 'half_open' | 'closed'
}

export interface GatewayEvents {
  attempt: [AttemptEvent]
  routed: [RoutedEvent]
  stream_end: [StreamEndEvent]
  usage: [UsageEvent]
  breaker: [BreakerEvent]
  rate_limited: [RateLimitedEvent]
}

declare module 'fastify' {
  interface FastifyInstance {
    events: EventEmitter<GatewayEvents>
  }
}

export default fp(async function events(app) {
  const emitter = new EventEmitter<GatewayEvents>()
  emitter.setMaxListeners(50)
  app.decorate('events', emitter)
  app.addHook('onClose', async () => emitter.removeAllListeners())
}, { name: 'events' })
