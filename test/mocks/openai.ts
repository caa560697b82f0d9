// A mock OpenAI-compatible upstream speaking Chat Completions exactly as PROTOCOLS.md §2
// describes: JSON answers, SSE chunks with `usage: null`, the `choices: []` usage chunk,
// tool-call fragments, `[DONE]`; plus /models and /embeddings. Scriptable per request.
import type { ServerResponse } from 'node:http'
import { sleep, startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'

export interface Answer {
  content?: string
  /** Sent as `reasoning` (OpenRouter/Ollama dialect) or `reasoning_content` (DeepSeek). */
  reasoning?: string
  reasoningField?: 'reasoning' | 'reasoning_content'
  toolCalls?: Array<{ id: string; name: string; arguments: string }>
  finishReason?: string
  /** Stream: how many content pieces (default 3). */
  pieces?: number
  /** Stream: how many pieces each tool call's arguments come in (default 2). */
  argumentPieces?: number
  gapMs?: number
  /** Stream: headers at once, then this long before the first frame (a model thinking). */
  thinkMs?: number
  /** Stream faults after N frames have been sent. */
  cutAfter?: number // destroy the socket
  stallAfter?: number // stop sending, keep the socket open
  errorAfter?: number // `data: {"error":…}` then end
  malformedAfter?: number // a non-JSON data line
  /** Send OpenRouter's `: OPENROUTER PROCESSING` comment first. */
  comments?: boolean
  /** Stream ends without [DONE] and without finish_reason. */
  truncate?: boolean
}

export type Step = Answer | Fault

export interface OpenAIMock extends MockServer {
  /** Base URL as a provider would be configured: `http://127.0.0.1:port/v1`. */
  baseUrl: string
  models: string[]
  /** Queue steps for the next chat requests; when the queue is empty, `fallback` answers. */
  script(...steps: Step[]): void
  /** Steps for the next requests naming this model (before the shared queue); `fallbackFor` answers it after. */
  scriptFor(model: string, ...steps: Step[]): void
  fallbackFor: Record<string, Step>
  fallback: Step
  chatRequests(): RecordedRequest[]
  embeddingSteps: Step[]
}

const created = 1726012687

export function completionFor(model: string, answer: Answer, id = 'chatcmpl-mock') {
  const toolCalls = answer.toolCalls?.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }))
  const message: Record<string, unknown> = { role: 'assistant', content: toolCalls ? null : (answer.content ?? 'Hello from mock'), refusal: null }
  if (toolCalls) message.tool_calls = toolCalls
  if (answer.reasoning) message[answer.reasoningField ?? 'reasoning_content'] = answer.reasoning
  return {
    id, object: 'chat.completion', created, model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finishReason ?? (toolCalls ? 'tool_calls' : 'stop') }],
    usage: { prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 },
    system_fingerprint: null,
  }
}

export function streamFrames(model: string, answer: Answer, includeUsage: boolean): string[] {
  const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created, model }
  const frame = (choices: unknown[], usage: unknown = null) => `data: ${JSON.stringify({ ...base, choices, usage })}\n\n`
  const delta = (d: Record<string, unknown>, finish: string | null = null) => frame([{ index: 0, delta: d, logprobs: null, finish_reason: finish }])
  const frames: string[] = []
  if (answer.comments) frames.push(': OPENROUTER PROCESSING\n\n')
  frames.push(delta({ role: 'assistant', content: '' }))
  if (answer.reasoning) frames.push(delta({ [answer.reasoningField ?? 'reasoning']: answer.reasoning }))
  if (answer.toolCalls) {
    answer.toolCalls.forEach((t, index) => {
      frames.push(delta({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }))
      // Two halves by default (even of an empty string, as before), or argumentPieces pieces.
      const pieces = answer.argumentPieces ?? 2
      const size = Math.max(1, Math.ceil(t.arguments.length / pieces))
      for (let i = 0; i < pieces; i++) {
        const piece = t.arguments.slice(i * size, (i + 1) * size)
        if (piece || i < 2) frames.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }))
      }
    })
  } else {
    const content = answer.content ?? 'Hello from mock'
    const pieces = answer.pieces ?? 3
    const size = Math.ceil(content.length / pieces)
    for (let i = 0; i < content.length; i += size) frames.push(delta({ content: content.slice(i, i + size) }))
  }
  if (answer.truncate) return frames
  frames.push(delta({}, answer.finishReason ?? (answer.toolCalls ? 'tool_calls' : 'stop')))
  if (includeUsage) frames.push(frame([], { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 }))
  frames.push('data: [DONE]\n\n')
  return frames
}

async function playStream(res: ServerResponse, frames: string[], answer: Answer): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  if (answer.thinkMs) {
    res.flushHeaders()
    await sleep(answer.thinkMs)
  }
  const stopAt = answer.cutAfter ?? answer.stallAfter ?? answer.errorAfter ?? answer.malformedAfter
  await writeFrames(res, stopAt === undefined ? frames : frames.slice(0, stopAt), answer.gapMs ?? 0)
  if (answer.cutAfter !== undefined) return void res.socket?.destroy()
  if (answer.stallAfter !== undefined) return // keep the socket open, send nothing more
  if (answer.errorAfter !== undefined) {
    res.end(`data: ${JSON.stringify({ error: { message: 'Internal error mid-stream', type: 'server_error', param: null, code: null } })}\n\n`)
    return
  }
  if (answer.malformedAfter !== undefined) {
    res.end('data: {"id":"chatcmpl-mock","choices":[{"delta":{"content":"tru\n\n')
    return
  }
  res.end()
}

export async function startOpenAIMock(options: { models?: string[]; embeddingDims?: number } = {}): Promise<OpenAIMock> {
  const queue: Step[] = []
  const modelQueues = new Map<string, Step[]>()
  const nextStep = (model: unknown): Step => {
    const own = typeof model === 'string' ? modelQueues.get(model)?.shift() ?? mock.fallbackFor[model] : undefined
    return own ?? queue.shift() ?? mock.fallback
  }
  const embeddingSteps: Step[] = []
  let mock: OpenAIMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: mock.models.map((id) => ({ id, object: 'model', created, owned_by: 'mock' })) }))
      return
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      const step = embeddingSteps.shift()
      if (step && isFault(step) && (await playFault(res, step))) return
      const inputs = Array.isArray(recorded.body.input) ? recorded.body.input : [recorded.body.input]
      const dims = options.embeddingDims ?? 4
      const vectors = inputs.map((_: unknown, i: number) => Array.from({ length: dims }, (_, d) => (i + 1) * 0.25 + d * 0.125))
      const asBase64 = recorded.body.encoding_format === 'base64'
      const data = vectors.map((v: number[], index: number) => ({
        object: 'embedding', index,
        embedding: asBase64 ? Buffer.from(Float32Array.from(v).buffer).toString('base64') : v,
      }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data, model: recorded.body.model, usage: { prompt_tokens: 3, total_tokens: 3 } }))
      return
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      let step = nextStep(recorded.body?.model)
      if (isFault(step)) {
        if (await playFault(res, step)) return
        step = nextStep(recorded.body?.model) // after a 'delay', the next step answers
        if (isFault(step) && (await playFault(res, step))) return
      }
      const answer = step as Answer
      const body = recorded.body
      if (body.stream) return playStream(res, streamFrames(body.model, answer, body.stream_options?.include_usage === true), answer)
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_mock' })
      res.end(JSON.stringify(completionFor(body.model, answer)))
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `Unknown request URL: ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } }))
  })
  mock = {
    ...server,
    baseUrl: `${server.origin}/v1`,
    models: options.models ?? ['gpt-4o-mini'],
    script: (...steps) => void queue.push(...steps),
    scriptFor: (model, ...steps) => void modelQueues.set(model, [...(modelQueues.get(model) ?? []), ...steps]),
    fallbackFor: {},
    fallback: { content: 'Hello from mock' },
    chatRequests: () => server.requests.filter((r) => r.url.startsWith('/v1/chat/completions')),
    embeddingSteps,
  }
  return mock
}
