// count_tokens for /v1/messages/count_tokens: Anthropic's own count when the provider that
// would serve the model now (the router's first candidate with its breaker not open) is
// Anthropic; otherwise — or when that call fails — an estimate with a real tokenizer
// (dialects/anthropic-messages/count-tokens.ts, encoded off the event loop by plugins/tokenizer.ts).
// Never a fixed number.
import type { FastifyInstance } from 'fastify'
import type { RequestContext } from '../../plugins/router.ts'
import { breakerState } from '../../plugins/registry.ts'
import { modelNotFound } from '../../plugins/errors.ts'
import { AnthropicProvider } from '../../providers/anthropic/index.ts'
import { estimateInputTokens } from '../../dialects/anthropic-messages/count-tokens.ts'
import { forwardedHeaders } from '../../dialects/anthropic-messages/request.ts'
import type { AnthropicRequest } from '../../dialects/anthropic-messages/wire.ts'

export interface Counted {
  inputTokens: number
  source: 'anthropic' | 'estimate'
  provider?: string
}

export async function countTokens(app: FastifyInstance, body: AnthropicRequest, headers: Record<string, string | string[] | undefined>, rctx: RequestContext): Promise<Counted> {
  const candidates = app.router.candidates(body.model)
  if (candidates.length === 0) throw modelNotFound(body.model)
  const serving = candidates.find((c) => breakerState(c.entry.breaker) !== 'open') ?? candidates[0]
  const provider = serving.entry.provider
  if (provider instanceof AnthropicProvider) {
    try {
      const inputTokens = await provider.countTokens(body, serving.model, rctx.signal, forwardedHeaders(headers))
      return { inputTokens, source: 'anthropic', provider: serving.entry.name }
    } catch (err) {
      rctx.log.warn({ provider: serving.entry.name, err: (err as Error).message }, 'count_tokens upstream failed; answering with an estimate')
    }
  }
  return { inputTokens: await estimateInputTokens(body, (texts) => app.tokenizer.count(texts)), source: 'estimate' }
}
