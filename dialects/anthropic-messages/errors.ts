// The Messages error envelope {"type":"error","error":{"type","message"}} with Anthropic's
// statuses: a gateway error keeps its status, except that "every provider failed" is 529
// overloaded_error, as Anthropic answers when it cannot serve (a 429 when all were rate-limited
// stays 429 rate_limit_error, with its retry-after).
import { anthropicErrorType } from './wire.ts'

/** Anthropic's "overloaded" status. */
export const OVERLOADED_STATUS = 529

export interface AnthropicErrorEnvelope {
  type: 'error'
  error: { type: string; message: string }
}

export function anthropicErrorReply(err: { statusCode: number; code: string | null; message: string }): { status: number; body: AnthropicErrorEnvelope } {
  const status = err.code === 'all_providers_failed' && err.statusCode === 503 ? OVERLOADED_STATUS : err.statusCode
  return { status, body: { type: 'error', error: { type: anthropicErrorType(status), message: err.message } } }
}
