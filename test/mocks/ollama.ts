// A mock Ollama server speaking the native API exactly as PROTOCOLS.md §1 describes:
// GET/HEAD /api/tags, GET /api/version, POST /api/chat (NDJSON with `application/x-ndjson`,
// RFC3339-nanosecond `created_at`, object-valued tool arguments, a final `done` line with
// done_reason and nanosecond durations; or one JSON object with `stream: false`), and
// POST /api/embed. Errors are `{"error":"…"}` with the real status before any output, and a
// final `{"error":"…"}` line under HTTP 200 mid-stream. It validates as strictly as Ollama
// does where a wrong mapping would show (unknown model, data-URL images, string tool
// arguments), and can be scripted with the shared faults.
import type { ServerResponse } from 'node:http'
import { startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'

export interface OllamaAnswer {
  content?: string
  thinking?: string
  /** Arrive whole in one line, with `content: ""`, as Ollama sends them. */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown>; id?: string }>
  doneReason?: 'stop' | 'length' | 'load' | 'unload'
  /** Stream: how many content lines (default 3). */
  pieces?: number
  promptEvalCount?: number
  evalCount?: number
  /** Stream faults after N lines have been sent. */
  errorAfter?: number // a final `{"error":"…"}` line, status still 200
  malformedAfter?: number // a line that is not JSON
  cutAfter?: number // socket destroyed
  stallAfter?: number // nothing more, socket left open
  /** Stream ends without its done line. */
  truncate?: boolean
}

export type OllamaStep = OllamaAnswer | Fault

export interface OllamaMock extends MockServer {
  /** What /api/tags lists, and the only models /api/chat and /api/embed accept. */
  models: string[]
  version: string
  /** Models that answer 400 "… does not support tools" when sent tools. */
  noTools: string[]
  /** Queue answers/faults for the next chat requests; when empty, `fallback` answers. */
  script(...steps: OllamaStep[]): void
  fallback: OllamaAnswer
  /** When set, /api/tags plays this fault (discovery failure). */
  tagsFault: Fault | undefined
  embedSteps: Fault[]
  chatRequests(): RecordedRequest[]
  embedRequests(): RecordedRequest[]
}

export const MID_STREAM_ERROR = 'an error was encountered while running the model: unexpected EOF'

/** RFC3339 with nanoseconds, as Go prints it. */
function createdAt(offsetMs = 0): string {
  return new Date(1761498924097 + offsetMs).toISOString().replace(/\.(\d{3})Z$/, '.$1767Z')
}

/** The digest-ish fields /api/tags lists per model. */
function tag(name: string) {
  const family = name.split(/[:.\d]/)[0] || 'llama'
  return {
    name,
    model: name,
    modified_at: '2025-05-04T17:37:44.706015396-07:00',
    size: 2019393189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: { parent_model: '', format: 'gguf', family, families: [family], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
  }
}

function ollamaError(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify({ error }))
}

/** Ollama's errors are `{"error":"…"}`: a scripted status fault without a body gets that shape. */
function ollamaFault(fault: Fault): Fault {
  if (fault.fault === 'status' && fault.body === undefined) return { ...fault, body: { error: `mock status ${fault.status}` } }
  return fault
}

const DONE_METRICS = { total_duration: 4883583458, load_duration: 1334875, prompt_eval_duration: 342546000, eval_duration: 4535599000 }

function doneFields(answer: OllamaAnswer) {
  return {
    done: true,
    done_reason: answer.doneReason ?? 'stop',
    total_duration: DONE_METRICS.total_duration,
    load_duration: DONE_METRICS.load_duration,
    prompt_eval_count: answer.promptEvalCount ?? 26,
    prompt_eval_duration: DONE_METRICS.prompt_eval_duration,
    eval_count: answer.evalCount ?? 282,
    eval_duration: DONE_METRICS.eval_duration,
  }
}

function toolCallsOf(answer: OllamaAnswer) {
  return answer.toolCalls?.map((t, index) => ({
    ...(t.id ? { id: t.id } : {}),
    function: { index, name: t.name, arguments: t.arguments },
  }))
}

export function ollamaLines(model: string, answer: OllamaAnswer): string[] {
  const lines: string[] = []
  let n = 0
  const line = (message: Record<string, unknown>, extra: Record<string, unknown> = { done: false }) =>
    lines.push(JSON.stringify({ model, created_at: createdAt(n++ * 11), message: { role: 'assistant', ...message }, ...extra }) + '\n')
  if (answer.thinking) line({ content: '', thinking: answer.thinking })
  if (answer.toolCalls) {
    line({ content: '', tool_calls: toolCallsOf(answer) })
  } else {
    const content = answer.content ?? 'Hello from Ollama'
    const pieces = answer.pieces ?? 3
    const size = Math.ceil(content.length / pieces)
    for (let i = 0; i < content.length; i += size) line({ content: content.slice(i, i + size) })
  }
  if (!answer.truncate) line({ content: '' }, doneFields(answer))
  return lines
}

export function ollamaAnswer(model: string, answer: OllamaAnswer) {
  const message: Record<string, unknown> = { role: 'assistant', content: answer.toolCalls ? '' : (answer.content ?? 'Hello from Ollama') }
  if (answer.thinking) message.thinking = answer.thinking
  if (answer.toolCalls) message.tool_calls = toolCallsOf(answer)
  return { model, created_at: createdAt(), message, ...doneFields(answer) }
}

async function playStream(res: ServerResponse, lines: string[], answer: OllamaAnswer): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  const stopAt = answer.errorAfter ?? answer.malformedAfter ?? answer.cutAfter ?? answer.stallAfter
  await writeFrames(res, stopAt === undefined ? lines : lines.slice(0, stopAt))
  if (answer.cutAfter !== undefined) return void res.socket?.destroy()
  if (answer.stallAfter !== undefined) return
  if (answer.errorAfter !== undefined) return void res.end(JSON.stringify({ error: MID_STREAM_ERROR }) + '\n')
  if (answer.malformedAfter !== undefined) return void res.end('{"model":"x","message":{"role":"assistant","content":"tru\n')
  res.end()
}

/** What real Ollama rejects with 400 before answering; undefined when the request is fine. */
function chatRequestProblem(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'missing request body'
  if (!body.model) return 'model is required'
  for (const m of body.messages ?? []) {
    if (typeof m.content !== 'string') return 'json: cannot unmarshal array into Go struct field Message.messages.content of type string'
    for (const image of m.images ?? []) {
      if (typeof image !== 'string' || image.startsWith('data:') || !/^[A-Za-z0-9+/]+=*$/.test(image)) return 'illegal base64 data at input byte 4'
    }
    for (const call of m.tool_calls ?? []) {
      if (typeof call.function?.arguments !== 'object' || call.function.arguments === null) {
        return 'json: cannot unmarshal string into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments'
      }
    }
  }
  return undefined
}

export async function startOllamaMock(options: { models?: string[] } = {}): Promise<OllamaMock> {
  const queue: OllamaStep[] = []
  let mock: OllamaMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/api/tags') {
      if (mock.tagsFault && (await playFault(res, ollamaFault(mock.tagsFault)))) return
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ models: mock.models.map(tag) }))
      return
    }
    if (req.method === 'GET' && path === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ version: mock.version }))
      return
    }
    if (req.method === 'POST' && path === '/api/chat') {
      let step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, ollamaFault(step))) return
        step = queue.shift() ?? mock.fallback
        if (isFault(step) && (await playFault(res, ollamaFault(step)))) return
      }
      const body = recorded.body
      const problem = chatRequestProblem(body)
      if (problem) return ollamaError(res, 400, problem)
      if (!mock.models.includes(body.model)) return ollamaError(res, 404, `model '${body.model}' not found`)
      if (body.tools?.length && mock.noTools.includes(body.model)) {
        return ollamaError(res, 400, `registry.ollama.ai/library/${body.model} does not support tools`)
      }
      const answer = step as OllamaAnswer
      // Ollama streams unless told `stream: false`.
      if (body.stream !== false) return playStream(res, ollamaLines(body.model, answer), answer)
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(ollamaAnswer(body.model, answer)))
      return
    }
    if (req.method === 'POST' && path === '/api/embed') {
      const step = mock.embedSteps.shift()
      if (step && (await playFault(res, ollamaFault(step)))) return
      const body = recorded.body
      if (!body?.model) return ollamaError(res, 400, 'model is required')
      if (!mock.models.includes(body.model)) return ollamaError(res, 404, `model '${body.model}' not found`)
      const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input]
      if (!inputs.every((i) => typeof i === 'string')) return ollamaError(res, 400, 'invalid input type')
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({
        model: body.model,
        embeddings: inputs.map((_, i) => embeddingVector(i, body.dimensions ?? 4)),
        total_duration: 14143917,
        load_duration: 1019500,
        prompt_eval_count: 8,
      }))
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('404 page not found')
  })
  mock = {
    ...server,
    models: options.models ?? ['llama3.2:latest', 'qwen3:8b', 'nomic-embed-text:latest'],
    version: '0.12.6',
    noTools: [],
    script: (...steps) => void queue.push(...steps),
    fallback: { content: 'Hello from Ollama' },
    tagsFault: undefined,
    embedSteps: [],
    chatRequests: () => server.requests.filter((r) => r.url.startsWith('/api/chat')),
    embedRequests: () => server.requests.filter((r) => r.url.startsWith('/api/embed')),
  }
  return mock
}

/** Deterministic vectors whose values survive float32 exactly (so tests can compare decoded base64). */
export function embeddingVector(inputIndex: number, dims: number): number[] {
  return Array.from({ length: dims }, (_, d) => (inputIndex + 1) * 0.25 - d * 0.125)
}
