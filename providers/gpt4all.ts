// GPT4All's desktop API server (PROTOCOLS.md §6; gpt4all-chat/src/server.cpp). Keyless,
// enabled by default, catalog from /v1/models. Its request parser is strict: any argument it
// does not implement (stream, stream_options, seed, stop, non-integer penalties, logit_bias,
// logprobs, response_format, tools, …) or does not know at all is a 400, and so is any
// message key besides role and content, or non-string content. So the body is rebuilt from
// an allow-list rather than stripped from a deny-list. It cannot stream: the router replays
// the JSON answer as SSE chunks for streaming clients. Requests that need tools, images or a
// tool-call history are left to other providers (cannotServe), never silently degraded.
import type { CallContext, ChatMessage, ChatRequest, ChatResult } from './contract.ts'
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { UpstreamError } from './upstream-error.ts'
import { ownEntry } from './lookup.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'gpt4all', tier: 4, keyless: true, baseUrl: 'http://localhost:4891/v1' })


/** GPT4All's server stops at 16 tokens when max_tokens is absent; OpenAI clients expect a whole answer. */
export const DEFAULT_GPT4ALL_MAX_TOKENS = 4096

const ROLES: Record<string, 'system' | 'user' | 'assistant' | undefined> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
}

function wantsTools(req: ChatRequest): boolean {
  const functions = req.functions as unknown[] | undefined
  const tools = Boolean(req.tools?.length) && req.tool_choice !== 'none'
  const legacy = Array.isArray(functions) && functions.length > 0 && req.function_call !== 'none'
  return tools || legacy
}

export function gpt4allCannotServe(req: ChatRequest): string | undefined {
  if (wantsTools(req)) return 'GPT4All cannot call tools (its server rejects `tools` and `tool_choice`)'
  for (const m of req.messages) {
    if (m.role === 'tool' || m.tool_calls?.length) return 'GPT4All cannot read tool calls or tool results in the conversation'
    if (Array.isArray(m.content) && m.content.some((part) => part.type !== 'text')) {
      return 'GPT4All takes text only (no images or other content parts)'
    }
  }
  return undefined
}

function text(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!content) return ''
  return content.map((part) => String((part as { text?: unknown }).text ?? '')).join('\n')
}

/** The OpenAI request → the only body GPT4All accepts: what it implements, nothing else. */
export function toGpt4All(req: ChatRequest): ChatRequest {
  const body: ChatRequest = {
    model: req.model,
    messages: req.messages.map((m) => ({ role: ownEntry(ROLES, m.role) ?? 'user', content: text(m.content) })),
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_GPT4ALL_MAX_TOKENS,
  }
  if (req.temperature !== undefined) body.temperature = req.temperature
  if (req.top_p !== undefined) body.top_p = req.top_p
  if (typeof req.min_p === 'number') body.min_p = req.min_p
  if (req.n !== undefined) body.n = req.n
  if (typeof req.user === 'string') body.user = req.user
  return body
}

class Gpt4AllProvider extends OpenAICompatibleProvider {
  override async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    try {
      // Always a JSON answer: the router turns it into chunks for a streaming client.
      return await super.chat({ ...req, stream: false }, ctx)
    } catch (err) {
      // An empty 401 means the API server is switched off in the app, not a bad key.
      if (err instanceof UpstreamError && err.status === 401) {
        throw new UpstreamError('server', 'HTTP 401: the GPT4All API server is switched off (Settings > Application > Advanced > Enable Local API Server)', { status: 401 })
      }
      throw err
    }
  }
}

export default providerPlugin('gpt4all', (app, settings) => new Gpt4AllProvider({
  name: 'gpt4all',
  settings,
  http: app.upstream,
  transformRequest: toGpt4All,
  cannotServe: gpt4allCannotServe,
  embeddings: false,
}))
