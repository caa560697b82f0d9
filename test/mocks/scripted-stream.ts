// A mock upstream that knows one reference answer and streams it, or the rest of it, in the
// OpenAI (PROTOCOLS.md §2) or Anthropic (§3) SSE format, with mid-stream faults scripted per
// request: cut after N events (socket destroyed, no [DONE] / message_stop), stall after N,
// an in-band error event after N (OpenAI `data: {"error":…}`, Anthropic `event: error`
// overloaded_error), a malformed event after N (the stream then goes on, as a rewriting proxy
// leaves it). A continuation is derived from the request (continuation.ts); prefill can be
// rejected with a 400 as OpenAI-compatible servers without prefill support do.
import type { ServerResponse } from 'node:http'
import { startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'
import { planAnswer, tokens, type ContinuationStyle, type Plan, type Reference } from './continuation.ts'
import { openAIFrames, anthropicFrames, openAIStreamError, anthropicStreamError, type Frames } from './scripted-frames.ts'

export type Wire = 'openai' | 'anthropic'

export type StreamFault =
  | { cut: number } // N events, then the socket is destroyed
  | { stall: number; closeAfterMs?: number } // N events, then silence with the socket open
  | { error: number } // N events, then the wire's in-band error event, then the end
  | { malformed: number } // N events, one malformed event, then the rest as normal
  | { delayFirstMs: number } // headers at once, the first event after this long

export type ScriptStep = StreamFault | Fault | 'ok'

export interface ScriptedUpstream extends MockServer {
  /** OpenAI: `${origin}/v1`; Anthropic: the origin (as ANTHROPIC_BASE_URL takes it). */
  baseUrl: string
  wire: Wire
  reference: Reference
  /** Queue what the next chat requests get (per model when `model` is given, else for any). */
  script(...steps: ScriptStep[]): void
  scriptFor(model: string, ...steps: ScriptStep[]): void
  /** What a request gets when nothing is queued for it ('ok' unless set). */
  defaultStep: ScriptStep
  /**
   * Per-request choices read from the request itself (the benchmark encodes them in the prompt,
   * so that concurrent requests cannot take each other's script). Each overrides its field.
   */
  per?: (body: any) => { reference?: Reference; step?: ScriptStep; style?: ContinuationStyle; prefill?: 'accept' | 'reject' }
  /** How a continuation request is answered. */
  style: ContinuationStyle
  /** 'reject': a request whose last message is the assistant's gets a 400 (a server without prefill). */
  prefill: 'accept' | 'reject'
  /** Milliseconds between events. */
  gapMs: number
  chatRequests(): RecordedRequest[]
  /** How many prefill requests were rejected. */
  prefillRejections: number
}

/** The event index at which the named part starts (for "cut inside a tool call"). */
export function framesFor(wire: Wire, model: string, plan: Plan, includeUsage: boolean): Frames {
  return wire === 'openai' ? openAIFrames(model, plan, includeUsage) : anthropicFrames(model, plan)
}

const PREFILL_REJECTED = {
  openai: { error: { message: 'This model does not support assistant message prefill. The conversation must end with a user message.', type: 'invalid_request_error', param: 'messages', code: 'invalid_prefill' } },
  anthropic: { type: 'error', error: { type: 'invalid_request_error', message: 'This model does not support assistant message prefill. The conversation must end with a user message.' } },
}

async function playStream(res: ServerResponse, wire: Wire, frames: string[], fault: StreamFault | undefined, gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': wire === 'openai' ? 'text/event-stream' : 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  res.flushHeaders()
  if (fault && 'delayFirstMs' in fault) await new Promise((r) => setTimeout(r, fault.delayFirstMs).unref())
  const stopAt = fault && 'cut' in fault ? fault.cut : fault && 'stall' in fault ? fault.stall : fault && 'error' in fault ? fault.error : fault && 'malformed' in fault ? fault.malformed : undefined
  await writeFrames(res, stopAt === undefined ? frames : frames.slice(0, stopAt), gapMs)
  if (res.destroyed) return
  if (fault && 'cut' in fault) return void res.socket?.destroy()
  if (fault && 'stall' in fault) {
    if (fault.closeAfterMs !== undefined) setTimeout(() => res.socket?.destroy(), fault.closeAfterMs).unref()
    return
  }
  if (fault && 'error' in fault) return void res.end(wire === 'openai' ? openAIStreamError() : anthropicStreamError())
  if (fault && 'malformed' in fault) {
    res.write(wire === 'openai' ? 'data: {"id":"chatcmpl-scripted","object":"chat.completion.chunk","choices":[{"delta":{"content":\n\n' : 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n')
    await writeFrames(res, frames.slice(fault.malformed), gapMs)
  }
  res.end()
}

export async function startScriptedUpstream(options: { wire: Wire; reference: Reference; models?: string[]; apiKey?: string }): Promise<ScriptedUpstream> {
  const anyQueue: ScriptStep[] = []
  const perModel = new Map<string, ScriptStep[]>()
  let mock: ScriptedUpstream
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    const isChat = req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/messages')
    if (req.method === 'GET' && path === '/v1/models') {
      const models = options.models ?? ['primary', 'fallback']
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(options.wire === 'openai'
        ? { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1726012687, owned_by: 'mock' })) }
        : { data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-10-01T00:00:00Z' })), has_more: false, first_id: models[0], last_id: models.at(-1) }))
      return
    }
    if (!isChat) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }))
    }
    const body = recorded.body
    const messages = body.messages ?? []
    const own = mock.per?.(body) ?? {}
    if (messages.at(-1)?.role === 'assistant') {
      if ((own.prefill ?? mock.prefill) === 'reject') {
        mock.prefillRejections++
        res.writeHead(400, { 'content-type': 'application/json' })
        return void res.end(JSON.stringify(PREFILL_REJECTED[options.wire]))
      }
      // Anthropic's own rule: a final assistant message may not end in whitespace.
      const last = messages.at(-1).content
      if (options.wire === 'anthropic' && typeof last === 'string' && last !== last.trimEnd()) {
        res.writeHead(400, { 'content-type': 'application/json' })
        return void res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'messages: final assistant content cannot end with trailing whitespace' } }))
      }
    }
    const step = own.step ?? perModel.get(body.model)?.shift() ?? anyQueue.shift() ?? mock.defaultStep
    if (isFault(step)) {
      if (await playFault(res, step)) return
    }
    const plan = planAnswer(own.reference ?? mock.reference, messages, own.style ?? mock.style)
    const frames = framesFor(options.wire, body.model, plan, body.stream_options?.include_usage === true)
    await playStream(res, options.wire, frames.frames, step === 'ok' || isFault(step) ? undefined : step, mock.gapMs)
  })
  mock = {
    ...server,
    baseUrl: options.wire === 'openai' ? `${server.origin}/v1` : server.origin,
    wire: options.wire,
    reference: options.reference,
    script: (...steps) => void anyQueue.push(...steps),
    scriptFor: (model, ...steps) => void perModel.set(model, [...(perModel.get(model) ?? []), ...steps]),
    defaultStep: 'ok',
    style: 'continue',
    prefill: 'accept',
    gapMs: 0,
    chatRequests: () => server.requests.filter((r) => r.url.startsWith('/v1/chat/completions') || r.url.startsWith('/v1/messages')),
    prefillRejections: 0,
  }
  return mock
}

export { tokens }
