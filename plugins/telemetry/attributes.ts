// Span attributes from what tiergate knows: the GenAI semantic conventions plus tiergate's
// own. Pure functions, so that what a span says (and what it never says: no key, no text
// unless asked) is tested without a collector.
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE,
} from '@opentelemetry/semantic-conventions'
import {
  ATTR_GEN_AI_INPUT_MESSAGES, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_OUTPUT_MESSAGES, ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL, ATTR_GEN_AI_RESPONSE_MODEL, ATTR_GEN_AI_USAGE_INPUT_TOKENS, ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from '@opentelemetry/semantic-conventions/incubating'
import type { Attributes } from '@opentelemetry/api'
import type { AttemptEvent } from '../events.ts'
import type { Usage } from '../../providers/contract.ts'

export const ATTR_TIERGATE_TIER = 'tiergate.tier'
export const ATTR_TIERGATE_FALLBACK_REASON = 'tiergate.fallback_reason'
export const ATTR_TIERGATE_RESUME = 'tiergate.resume'
export const ATTR_TIERGATE_CACHE = 'tiergate.cache'
export const ATTR_TIERGATE_ATTEMPTS = 'tiergate.attempts'
export const ATTR_TIERGATE_STREAM = 'tiergate.stream'
export const ATTR_TIERGATE_ATTEMPT_OUTCOME = 'tiergate.attempt.outcome'

/**
 * A model name is the client's string, as long as the body limit allows: a span carries at most
 * this much of it (collectors and trace stores are not where a megabyte "model" should land).
 */
export const MAX_MODEL_ATTRIBUTE_CHARS = 256
export const modelName = (model: string) => model.length > MAX_MODEL_ATTRIBUTE_CHARS ? model.slice(0, MAX_MODEL_ATTRIBUTE_CHARS) : model

/** The GenAI operation of a route: chat for the three chat dialects, embeddings for /v1/embeddings. */
export function operationName(route: string | undefined): string | undefined {
  if (route === '/v1/chat/completions' || route === '/v1/messages' || route === '/v1/responses') return 'chat'
  if (route === '/v1/embeddings') return 'embeddings'
  return undefined
}

export function serverStartAttributes(method: string, route: string | undefined): Attributes {
  const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method }
  if (route) attributes[ATTR_HTTP_ROUTE] = route
  const operation = operationName(route)
  if (operation) attributes[ATTR_GEN_AI_OPERATION_NAME] = operation
  return attributes
}

/** From the decoded body: the requested model, and — only with OTEL_CAPTURE_CONTENT=1 — the messages. */
export function requestAttributes(body: unknown, captureContent: boolean, redact: (s: string) => string): Attributes {
  if (typeof body !== 'object' || body === null) return {}
  const b = body as { model?: unknown; messages?: unknown; input?: unknown; stream?: unknown }
  const attributes: Attributes = {}
  if (typeof b.model === 'string') attributes[ATTR_GEN_AI_REQUEST_MODEL] = modelName(b.model)
  attributes[ATTR_TIERGATE_STREAM] = b.stream === true
  if (captureContent) {
    const input = b.messages ?? b.input
    if (input !== undefined) attributes[ATTR_GEN_AI_INPUT_MESSAGES] = redact(JSON.stringify(input))
  }
  return attributes
}

/** From the response headers tiergate sets (x-tiergate-*) and the status. */
export function serverEndAttributes(status: number, headers: Record<string, unknown>): Attributes {
  const attributes: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status }
  const provider = headers['x-tiergate-provider']
  if (typeof provider === 'string') attributes[ATTR_GEN_AI_PROVIDER_NAME] = provider
  const tier = Number(headers['x-tiergate-tier'])
  if (Number.isFinite(tier) && headers['x-tiergate-tier'] !== undefined) attributes[ATTR_TIERGATE_TIER] = tier
  const attempts = Number(headers['x-tiergate-attempts'])
  if (Number.isFinite(attempts) && headers['x-tiergate-attempts'] !== undefined) attributes[ATTR_TIERGATE_ATTEMPTS] = attempts
  const cache = headers['x-tiergate-cache']
  if (typeof cache === 'string') attributes[ATTR_TIERGATE_CACHE] = cache
  if (status >= 400) attributes[ATTR_ERROR_TYPE] = String(status)
  return attributes
}

/** One upstream attempt, as the router reported it. A failed attempt says why (that is the fallback reason of the next). */
export function attemptAttributes(e: AttemptEvent): Attributes {
  const attributes: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: e.operation === 'embed' ? 'embeddings' : 'chat',
    [ATTR_GEN_AI_PROVIDER_NAME]: e.provider,
    [ATTR_GEN_AI_REQUEST_MODEL]: modelName(e.model),
    [ATTR_TIERGATE_TIER]: e.tier,
    [ATTR_TIERGATE_STREAM]: e.stream,
    [ATTR_TIERGATE_ATTEMPT_OUTCOME]: e.outcome,
  }
  if (e.outcome === 'success') attributes[ATTR_GEN_AI_RESPONSE_MODEL] = modelName(e.model)
  else {
    attributes[ATTR_ERROR_TYPE] = e.outcome
    attributes[ATTR_TIERGATE_FALLBACK_REASON] = e.outcome
  }
  return attributes
}

export function usageAttributes(usage: Usage | undefined): Attributes {
  if (!usage) return {}
  const attributes: Attributes = {}
  if (typeof usage.prompt_tokens === 'number') attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = usage.prompt_tokens
  if (typeof usage.completion_tokens === 'number') attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = usage.completion_tokens
  return attributes
}

/** Only with OTEL_CAPTURE_CONTENT=1: the answer's text, from a JSON response body. */
export function outputAttributes(payload: unknown, redact: (s: string) => string): Attributes {
  if (typeof payload !== 'string' || payload.length === 0 || payload[0] !== '{') return {}
  try {
    const body = JSON.parse(payload) as { choices?: Array<{ message?: unknown }>; content?: unknown; output?: unknown }
    const output = body.choices?.map((c) => c.message) ?? body.content ?? body.output
    return output === undefined ? {} : { [ATTR_GEN_AI_OUTPUT_MESSAGES]: redact(JSON.stringify(output)) }
  } catch {
    return {}
  }
}
