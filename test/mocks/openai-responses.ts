// A mock of OpenAI's native Responses API (POST /v1/responses), JSON and SSE as OpenAI sends
// them: `event: <type>` + one `data:` line per event, `sequence_number` from 0, no [DONE].
// Every delta event carries `obfuscation` — a field OpenAI really sends and tiergate does not
// model — so that tests can prove native passthrough keeps the upstream's bytes. Scriptable.
import type { ServerResponse } from 'node:http'
import { sleep, startMockServer, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'

export interface NativeAnswer {
  content?: string
  reasoning?: string
  toolCalls?: Array<{ callId: string; name: string; arguments: string }>
  /** Stream: text pieces (default 3); argument pieces per call (default 3). */
  pieces?: number
  /** Stream: destroy the socket after this many events. */
  cutAfter?: number
  /** Stream: a `response.failed` event after this many events. */
  failAfter?: number
  /** `incomplete` (max_output_tokens) instead of `completed`. */
  incomplete?: boolean
}

export type NativeStep = NativeAnswer | Fault

export interface OpenAIResponsesMock extends MockServer {
  baseUrl: string
  script(...steps: NativeStep[]): void
  fallback: NativeStep
  responseRequests(): RecordedRequest[]
  /** The exact bytes of the last SSE body or JSON body sent. */
  lastBody(): string
}

const CREATED_AT = 1741476542
const hex = (n: number) => n.toString(16).padStart(48, '0')

function build(model: string, answer: NativeAnswer, n: number) {
  const id = `resp_${hex(n)}`
  const output: any[] = []
  if (answer.reasoning) output.push({ id: `rs_${hex(n)}`, type: 'reasoning', summary: [{ type: 'summary_text', text: answer.reasoning }], encrypted_content: 'gAAAA-mock' })
  if (answer.toolCalls) {
    answer.toolCalls.forEach((c, i) => output.push({ id: `fc_${hex(n * 10 + i)}`, type: 'function_call', status: 'completed', arguments: c.arguments, call_id: c.callId, name: c.name }))
  } else {
    output.push({ id: `msg_${hex(n)}`, type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: answer.content ?? 'Hello from native' }], role: 'assistant' })
  }
  const response = {
    id, object: 'response', created_at: CREATED_AT, status: answer.incomplete ? 'incomplete' : 'completed', background: false,
    completed_at: answer.incomplete ? null : CREATED_AT + 1, error: null,
    incomplete_details: answer.incomplete ? { reason: 'max_output_tokens' } : null, instructions: null, max_output_tokens: null, model,
    output, parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null }, service_tier: 'default', store: true,
    temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: 'auto', tools: [], top_p: 1, truncation: 'disabled',
    usage: { input_tokens: 21, input_tokens_details: { cached_tokens: 8 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 30 },
    user: null, metadata: {}, mock_extension: { kept: true },
  }
  return response
}

function split(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces))
  const out: string[] = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

export function nativeEvents(response: ReturnType<typeof build>, pieces = 3): string[] {
  let seq = 0
  const events: string[] = []
  const emit = (data: Record<string, unknown>) => events.push(`event: ${data.type}\ndata: ${JSON.stringify({ ...data, sequence_number: seq++ })}\n\n`)
  const start = { ...response, status: 'in_progress', completed_at: null, output: [], usage: null }
  emit({ type: 'response.created', response: start })
  emit({ type: 'response.in_progress', response: start })
  response.output.forEach((item: any, output_index: number) => {
    if (item.type === 'reasoning') {
      emit({ type: 'response.output_item.added', output_index, item: { ...item, summary: [] } })
      emit({ type: 'response.reasoning_summary_part.added', item_id: item.id, output_index, summary_index: 0, part: { type: 'summary_text', text: '' } })
      for (const delta of split(item.summary[0].text, pieces)) emit({ type: 'response.reasoning_summary_text.delta', item_id: item.id, output_index, summary_index: 0, delta, obfuscation: 'x1' })
      emit({ type: 'response.reasoning_summary_text.done', item_id: item.id, output_index, summary_index: 0, text: item.summary[0].text })
      emit({ type: 'response.reasoning_summary_part.done', item_id: item.id, output_index, summary_index: 0, part: item.summary[0] })
      emit({ type: 'response.output_item.done', output_index, item })
    } else if (item.type === 'function_call') {
      emit({ type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', arguments: '' } })
      for (const delta of split(item.arguments, pieces)) emit({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index, delta, obfuscation: 'x2' })
      emit({ type: 'response.function_call_arguments.done', item_id: item.id, output_index, name: item.name, arguments: item.arguments })
      emit({ type: 'response.output_item.done', output_index, item })
    } else {
      const text = item.content[0].text
      emit({ type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', content: [] } })
      emit({ type: 'response.content_part.added', item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } })
      for (const delta of split(text, pieces)) emit({ type: 'response.output_text.delta', item_id: item.id, output_index, content_index: 0, delta, logprobs: [], obfuscation: 'x3' })
      emit({ type: 'response.output_text.done', item_id: item.id, output_index, content_index: 0, text, logprobs: [] })
      emit({ type: 'response.content_part.done', item_id: item.id, output_index, content_index: 0, part: item.content[0] })
      emit({ type: 'response.output_item.done', output_index, item })
    }
  })
  emit({ type: response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', response })
  return events
}

async function playStream(res: ServerResponse, events: string[], answer: NativeAnswer, record: (s: string) => void): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  const stopAt = answer.cutAfter ?? answer.failAfter
  const sent = stopAt === undefined ? events : events.slice(0, stopAt)
  let body = ''
  for (const event of sent) {
    if (res.destroyed) return
    res.write(event)
    body += event
    await sleep(0)
  }
  if (answer.cutAfter !== undefined) {
    record(body)
    res.socket?.destroy()
    return
  }
  if (answer.failAfter !== undefined) {
    const failed = `event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', sequence_number: sent.length, response: { id: 'resp_failed', object: 'response', status: 'failed', output: [], error: { code: 'server_error', message: 'The model crashed mid-answer' } } })}\n\n`
    body += failed
    record(body)
    res.end(failed)
    return
  }
  record(body)
  res.end()
}

export async function startOpenAIResponsesMock(): Promise<OpenAIResponsesMock> {
  const queue: NativeStep[] = []
  let count = 0
  let last = ''
  let mock: OpenAIResponsesMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method === 'POST' && path === '/v1/responses') {
      let step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, step)) return
        step = queue.shift() ?? mock.fallback
        if (isFault(step) && (await playFault(res, step))) return
      }
      const answer = step as NativeAnswer
      const response = build(String(recorded.body.model), answer, ++count)
      if (recorded.body.stream) return playStream(res, nativeEvents(response, answer.pieces), answer, (s) => { last = s })
      last = JSON.stringify(response)
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_mock' })
      res.end(last)
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `Unknown request URL: ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } }))
  })
  mock = {
    ...server,
    baseUrl: `${server.origin}/v1`,
    script: (...steps) => void queue.push(...steps),
    fallback: { content: 'Hello from native' },
    responseRequests: () => server.requests.filter((r) => r.url.startsWith('/v1/responses')),
    lastBody: () => last,
  }
  return mock
}
