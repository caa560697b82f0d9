// A mock GPT4All desktop API server, as gpt4all-chat/src/server.cpp behaves (PROTOCOLS.md §6):
// GET /v1/models (owned_by "humanity", root, parent, permissions), GET on the completions
// routes → 405, and POST /v1/chat/completions with the real server's strict parser: 400
// `invalid_request_error` for stream/stream_options/seed/stop, penalties other than integer 0,
// logit_bias, logprobs, top_logprobs, response_format, tools, tool_choice, functions,
// function_call, any unknown argument, any message key but role/content, a non-string
// content, or a role other than system/user/assistant. Answers are plain `chat.completion`s
// with `id: "placeholder"`. `serverOff` answers 401 with an empty body, as the app does when
// its API server setting is off. No embeddings endpoint.
import type { ServerResponse } from 'node:http'
import { startMockServer, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'

export interface Gpt4AllAnswer {
  content?: string
  finishReason?: 'stop' | 'length'
}

export type Gpt4AllStep = Gpt4AllAnswer | Fault

export interface Gpt4AllMock extends MockServer {
  baseUrl: string
  models: string[]
  serverOff: boolean
  script(...steps: Gpt4AllStep[]): void
  fallback: Gpt4AllAnswer
  chatRequests(): RecordedRequest[]
}

/** Every top-level argument server.cpp's ChatRequest parser takes off the body. */
const KNOWN_ARGUMENTS = new Set([
  'model', 'frequency_penalty', 'max_tokens', 'n', 'presence_penalty', 'seed', 'stop', 'stream', 'stream_options',
  'temperature', 'top_p', 'min_p', 'user', 'messages', 'logit_bias', 'logprobs', 'top_logprobs', 'response_format',
  'service_tier', 'tools', 'tool_choice', 'parallel_tool_calls', 'function_call', 'functions',
])

class InvalidRequest extends Error {}

const isInteger = (v: unknown) => typeof v === 'number' && Number.isInteger(v)

/**
 * server.cpp reads JSON as CBOR to tell integers from doubles: integer `0` passes, `0.0` or
 * any other value is rejected. A body serialized by JSON.stringify (the gateway's) writes a
 * zero as `0`, so for what tiergate can send, "integer 0" is exactly `=== 0`.
 */
const penaltyAccepted = (value: unknown) => value === undefined || value === null || value === 0

/** The real parser's checks, in its order; throws with its messages. Returns max_tokens. */
function parseChatRequest(body: any): { model: string; maxTokens: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidRequest('error parsing request JSON: not an object')
  if (typeof body.model !== 'string') throw new InvalidRequest('you must provide a model parameter')
  for (const key of ['frequency_penalty', 'presence_penalty']) {
    if (!penaltyAccepted(body[key])) throw new InvalidRequest(`'${key}' is not supported`)
  }
  if (body.max_tokens !== undefined && (!isInteger(body.max_tokens) || body.max_tokens < 1)) throw new InvalidRequest(`'${body.max_tokens}' is not of type 'integer' - 'max_tokens'`)
  if (body.seed !== undefined && body.seed !== null) throw new InvalidRequest("'seed' is not supported")
  if (body.stop !== undefined && body.stop !== null) throw new InvalidRequest("'stop' is not supported")
  if (body.stream === true) throw new InvalidRequest("'stream' is not supported")
  if (body.stream_options !== undefined && body.stream_options !== null) throw new InvalidRequest("'stream_options' is not supported")
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new InvalidRequest(`Invalid type for 'messages': expected a non-empty array of objects, but got '${JSON.stringify(body.messages)}' instead.`)
  }
  body.messages.forEach((m: any, i: number) => {
    if (!['system', 'user', 'assistant'].includes(m?.role)) {
      throw new InvalidRequest(`Invalid 'messages[${i}].role': expected one of 'system', 'assistant', or 'user', but got '${m?.role}' instead.`)
    }
    if (typeof m.content !== 'string') throw new InvalidRequest(`'${JSON.stringify(m.content)}' is not of type 'string' - 'content'`)
    const extra = Object.keys(m).find((k) => k !== 'role' && k !== 'content')
    if (extra) throw new InvalidRequest(`Invalid 'messages[${i}]': unrecognized key: '${extra}'`)
  })
  if (body.logit_bias !== undefined && body.logit_bias !== null) throw new InvalidRequest("'logit_bias' is not supported")
  if (body.logprobs === true) throw new InvalidRequest("'logprobs' is not supported")
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) throw new InvalidRequest("The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.")
  if (body.response_format !== undefined && body.response_format !== null) throw new InvalidRequest("'response_format' is not supported")
  if (body.tools !== undefined && body.tools !== null) throw new InvalidRequest("'tools' is not supported")
  if (body.tool_choice !== undefined && body.tool_choice !== null) throw new InvalidRequest("'tool_choice' is not supported")
  if (body.function_call !== undefined && body.function_call !== null) throw new InvalidRequest("'function_call' is not supported")
  if (body.functions !== undefined && body.functions !== null) throw new InvalidRequest("'functions' is not supported")
  const unknown = Object.keys(body).find((k) => !KNOWN_ARGUMENTS.has(k))
  if (unknown) throw new InvalidRequest(`Unrecognized request argument supplied: ${unknown}`)
  return { model: body.model, maxTokens: body.max_tokens ?? 16 }
}

function invalidRequest(res: ServerResponse, message: string): void {
  res.writeHead(400, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } }))
}

function modelJson(name: string) {
  return {
    id: name, object: 'model', created: 0, owned_by: 'humanity', root: name, parent: null,
    permissions: [{
      id: 'placeholder', object: 'model_permission', created: 0, allow_create_engine: false, allow_sampling: false,
      allow_logprobs: false, allow_search_indices: false, allow_view: true, allow_fine_tuning: false,
      organization: '*', group: null, is_blocking: false,
    }],
  }
}

export async function startGpt4AllMock(options: { models?: string[] } = {}): Promise<Gpt4AllMock> {
  const queue: Gpt4AllStep[] = []
  let mock: Gpt4AllMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if (mock.serverOff) {
      res.writeHead(401)
      res.end()
      return
    }
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: mock.models.map(modelJson) }))
      return
    }
    if (req.method === 'GET' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
      res.writeHead(405, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Only POST requests are accepted.', type: 'invalid_request_error', param: null, code: 'method_not_supported' } }))
      return
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      let step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, step)) return
        step = queue.shift() ?? mock.fallback
        if (isFault(step) && (await playFault(res, step))) return
      }
      let parsed: { model: string; maxTokens: number }
      try {
        parsed = parseChatRequest(recorded.body)
      } catch (err) {
        if (err instanceof InvalidRequest) return invalidRequest(res, err.message)
        throw err
      }
      const answer = step as Gpt4AllAnswer
      // An unknown model name silently falls back to the app's default model, as the real server does.
      const model = mock.models.includes(parsed.model) ? parsed.model : mock.models[0]
      const n = recorded.body.n ?? 1
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({
        id: 'placeholder',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: 'assistant', content: answer.content ?? 'Hello from GPT4All' },
          finish_reason: answer.finishReason ?? 'stop',
          logprobs: null,
          references: null,
        })),
        usage: { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 },
      }))
      return
    }
    res.writeHead(404)
    res.end()
  })
  mock = {
    ...server,
    baseUrl: `${server.origin}/v1`,
    models: options.models ?? ['Llama 3.2 3B Instruct', 'Phi-3 Mini Instruct'],
    serverOff: false,
    script: (...steps) => void queue.push(...steps),
    fallback: { content: 'Hello from GPT4All' },
    chatRequests: () => server.requests.filter((r) => r.url.startsWith('/v1/chat/completions')),
  }
  return mock
}

