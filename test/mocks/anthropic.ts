// A mock Anthropic upstream speaking the Messages API exactly as PROTOCOLS.md §3 describes:
// `x-api-key` + `anthropic-version` checks, request validation (max_tokens required, roles
// user/assistant only, thinking budget rules), JSON answers with a `request-id` header, SSE
// `event:`/`data:` frames (message_start, content blocks, ping anywhere, thinking and
// signature deltas, input_json_delta fragments, message_delta usage, message_stop), the
// `{"type":"error",…}` error body, a mid-stream `error` event, the paginated /v1/models, and
// POST /v1/messages/count_tokens (`{"input_tokens": n}`, see mockTokenCount).
import type { ServerResponse } from 'node:http'
import { startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'

export interface AnthropicAnswer {
  text?: string
  thinking?: string
  toolUses?: Array<{ id: string; name: string; input: Record<string, unknown> }>
  stopReason?: string
  usage?: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number }
  /** Stream: text pieces per text block (default 3). */
  pieces?: number
  /** Stream faults after N frames have been sent. */
  errorAfter?: number // an `event: error` overloaded_error, then the end
  cutAfter?: number // socket destroyed
  /** Stream: end after message_delta, without message_stop. */
  omitStop?: boolean
}

export type AnthropicStep = AnthropicAnswer | Fault

export interface AnthropicMock extends MockServer {
  /** What ANTHROPIC_BASE_URL is set to (the origin, as in the official SDK). */
  baseUrl: string
  models: string[]
  /** The key the mock accepts (x-api-key). */
  apiKey: string
  script(...steps: AnthropicStep[]): void
  fallback: AnthropicAnswer
  messageRequests(): RecordedRequest[]
  /** Faults for the next POST /v1/messages/count_tokens requests. */
  scriptCount(...faults: Fault[]): void
  countRequests(): RecordedRequest[]
}

export const ANTHROPIC_VERSION = '2023-06-01'
const REQUEST_ID = 'req_011CMockRequest'

/** A scripted Anthropic error: the status and the exact `{"type":"error",…}` body. */
export function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}): Fault {
  return { fault: 'status', status, body: { type: 'error', error: { type, message }, request_id: REQUEST_ID }, headers: { 'request-id': REQUEST_ID, ...headers } }
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': REQUEST_ID })
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: REQUEST_ID }))
}

const BLOCK_TYPES = new Set(['text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'document'])

/** The checks the real API makes that a translation bug would trip. */
function invalidRequest(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'request body must be JSON'
  if (typeof body.model !== 'string') return 'model: Field required'
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required'
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required'
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`
    if (Array.isArray(m.content)) {
      for (const block of m.content) if (!BLOCK_TYPES.has(block.type)) return `messages.${i}.content: unknown block type ${block.type}`
    } else if (typeof m.content !== 'string') return `messages.${i}.content: Input should be a string or a list of blocks`
  }
  if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 1)) return 'temperature: range: 0..1'
  if (body.thinking) {
    if (body.thinking.budget_tokens < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'
    if (body.max_tokens <= body.thinking.budget_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`'
    if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` may only be set to 1 when thinking is enabled'
  }
  for (const field of ['n', 'stop', 'user', 'max_completion_tokens', 'reasoning_effort', 'stream_options', 'tool_calls']) {
    if (field in body) return `${field}: Extra inputs are not permitted`
  }
  return undefined
}

function contentBlocks(answer: AnthropicAnswer): any[] {
  const blocks: any[] = []
  if (answer.thinking) blocks.push({ type: 'thinking', thinking: answer.thinking, signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' })
  if (answer.text !== undefined || !answer.toolUses) blocks.push({ type: 'text', text: answer.text ?? 'Hello from Claude' })
  for (const t of answer.toolUses ?? []) blocks.push({ type: 'tool_use', id: t.id, name: t.name, input: t.input })
  return blocks
}

const stopReasonOf = (answer: AnthropicAnswer) => answer.stopReason ?? (answer.toolUses ? 'tool_use' : 'end_turn')
const usageOf = (answer: AnthropicAnswer) => answer.usage ?? { input_tokens: 29, output_tokens: 5 }

export function messageFor(model: string, answer: AnthropicAnswer) {
  return {
    id: 'msg_01MockMessage', type: 'message', role: 'assistant', model,
    content: contentBlocks(answer), stop_reason: stopReasonOf(answer), stop_sequence: null, usage: usageOf(answer),
  }
}

const frame = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
// Anthropic's own ping has a space after the colon; kept byte for byte.
const PING = 'event: ping\ndata: {"type": "ping"}\n\n'

export function streamFrames(model: string, answer: AnthropicAnswer): string[] {
  const usage = usageOf(answer)
  const frames = [frame({ type: 'message_start', message: { ...messageFor(model, answer), content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } })]
  frames.push(PING)
  contentBlocks(answer).forEach((block, index) => {
    const pieces = (text: string) => {
      const size = Math.ceil(text.length / (answer.pieces ?? 3)) || 1
      const out: string[] = []
      for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
      return out
    }
    if (block.type === 'thinking') {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '' } }))
      for (const p of pieces(block.thinking)) frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: p } }))
      frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } }))
    } else if (block.type === 'text') {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }))
      pieces(block.text).forEach((p, i) => {
        frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }))
        if (i === 0) frames.push(PING) // pings come anywhere, even mid-block
      })
    } else {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }))
      const json = JSON.stringify(block.input)
      const half = Math.ceil(json.length / 2)
      frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }))
      frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } }))
      frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } }))
    }
    frames.push(frame({ type: 'content_block_stop', index }))
  })
  frames.push(frame({ type: 'message_delta', delta: { stop_reason: stopReasonOf(answer), stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }))
  if (!answer.omitStop) frames.push(frame({ type: 'message_stop' }))
  return frames
}

async function playStream(res: ServerResponse, frames: string[], answer: AnthropicAnswer): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': REQUEST_ID })
  const stopAt = answer.errorAfter ?? answer.cutAfter
  await writeFrames(res, stopAt === undefined ? frames : frames.slice(0, stopAt))
  if (answer.cutAfter !== undefined) return void res.socket?.destroy()
  if (answer.errorAfter !== undefined) {
    res.end(frame({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }))
    return
  }
  res.end()
}

/** The mock's count_tokens answer: deterministic, and unlike any tokenizer's estimate. */
export function mockTokenCount(body: { system?: unknown; messages?: unknown; tools?: unknown }): number {
  return 7000 + JSON.stringify([body.system ?? null, body.messages ?? [], body.tools ?? []]).length
}

export async function startAnthropicMock(options: { models?: string[]; apiKey?: string; pageSize?: number } = {}): Promise<AnthropicMock> {
  const queue: AnthropicStep[] = []
  const countQueue: Fault[] = []
  let mock: AnthropicMock
  const server = await startMockServer(async (req, res, recorded) => {
    const url = new URL(req.url ?? '/', 'http://mock')
    if (req.headers['x-api-key'] !== mock.apiKey) {
      return sendError(res, 401, 'authentication_error', 'invalid x-api-key')
    }
    // Versions are dates; newer SDKs send newer ones (the official SDK 1.x sends 2026-10-21).
    if (!/^\d{4}-\d{2}-\d{2}$/.test(String(req.headers['anthropic-version'] ?? ''))) {
      return sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required')
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      const limit = Number(url.searchParams.get('limit') ?? 20)
      const pageSize = Math.min(limit, options.pageSize ?? limit)
      const after = url.searchParams.get('after_id')
      const start = after ? mock.models.indexOf(after) + 1 : 0
      const page = mock.models.slice(start, start + pageSize)
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': REQUEST_ID })
      res.end(JSON.stringify({
        data: page.map((id) => ({ type: 'model', id, display_name: id.replace(/-/g, ' '), created_at: '2025-10-01T00:00:00Z' })),
        has_more: start + pageSize < mock.models.length,
        first_id: page[0] ?? null,
        last_id: page.at(-1) ?? null,
      }))
      return
    }
    if (req.method === 'POST' && url.pathname === '/v1/messages/count_tokens') {
      const body = recorded.body
      if (typeof body?.model !== 'string') return sendError(res, 400, 'invalid_request_error', 'model: Field required')
      if (!Array.isArray(body.messages) || body.messages.length === 0) return sendError(res, 400, 'invalid_request_error', 'messages: Field required')
      const step = countQueue.shift()
      if (step && (await playFault(res, step))) return
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': REQUEST_ID })
      res.end(JSON.stringify({ input_tokens: mockTokenCount(body) }))
      return
    }
    if (req.method === 'POST' && url.pathname === '/v1/messages') {
      const problem = invalidRequest(recorded.body)
      if (problem) return sendError(res, 400, 'invalid_request_error', problem)
      const step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, step)) return
      }
      const answer = (isFault(step) ? mock.fallback : step) as AnthropicAnswer
      const body = recorded.body
      if (body.stream) return playStream(res, streamFrames(body.model, answer), answer)
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': REQUEST_ID })
      res.end(JSON.stringify(messageFor(body.model, answer)))
      return
    }
    sendError(res, 404, 'not_found_error', `Not found: ${req.method} ${url.pathname}`)
  })
  mock = {
    ...server,
    baseUrl: server.origin,
    models: options.models ?? ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    apiKey: options.apiKey ?? 'sk-ant-api03-mock-key-000000',
    script: (...steps) => void queue.push(...steps),
    fallback: { text: 'Hello from Claude' },
    messageRequests: () => server.requests.filter((r) => r.url === '/v1/messages'),
    scriptCount: (...faults) => void countQueue.push(...faults),
    countRequests: () => server.requests.filter((r) => r.url === '/v1/messages/count_tokens'),
  }
  return mock
}
