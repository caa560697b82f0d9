// OpenAI itself: the reference dialect, Bearer auth. OPENAI_API_KEY enables it.
// A /v1/responses request passes through natively to its Responses API (providers/openai-responses.ts).
import type { CallContext, ChatRequest, ChatResult } from './contract.ts'
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { isNativeResponses, nativeResponses } from './openai-responses.ts'
import { providerPlugin } from './plugin.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'openai', tier: 1, baseUrl: 'https://api.openai.com/v1' })


class OpenAIProvider extends OpenAICompatibleProvider {
  /** OpenAI does not continue a final assistant message: a resume uses the continue-instruction. */
  override readonly acceptsPrefill = false
  override async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    if (isNativeResponses(req)) return nativeResponses(this.options.http, this.baseUrl, this.headers(ctx.apiKey), req, ctx)
    return super.chat(req, ctx)
  }
}

export default providerPlugin('openai', (app, settings) =>
  new OpenAIProvider({ name: 'openai', settings, http: app.upstream }))
