// How the router names two outcomes that are not an upstream's answer: a provider with no key
// to lease, and a client that left.
import type { ProviderEntry } from '../registry.ts'
import { GatewayError } from '../errors.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

/**
 * Why a provider had no key to lease: cooling down after 429s (a rate limit: the client may be
 * told when to come back), or every key rejected with 401/403 (out of service, not a rate limit).
 */
export function keysUnavailable(entry: ProviderEntry, model: string): UpstreamError {
  const why = entry.keys.unavailable(model)
  const inS = Math.ceil(Math.max(0, (why?.freeAt ?? Date.now()) - Date.now()) / 1000)
  return why?.reason === 'auth'
    ? new UpstreamError('auth', `every key was rejected (401/403); the first is retried in ${inS} s`)
    : new UpstreamError('cooling_down', `rate-limited for ${model}, free again in ${inS} s`)
}

/**
 * The client left: nothing will read this answer. 499 (nginx's "client closed request") keeps
 * such requests out of the 5xx error logs and metrics.
 */
export const clientClosed = () =>
  new GatewayError(499, 'invalid_request_error', 'client_closed_request', 'The client closed the request before the answer was ready.')
