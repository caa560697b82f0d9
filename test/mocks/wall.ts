// A fault wall after failoverbench's (github.com/failoverbench/failoverbench, scenarios/
// catalogue.yaml): one OpenAI-compatible upstream whose *model name* picks how it misbehaves.
// `fb-ok` always answers; `fb-ok-noprefill` answers but rejects an assistant-last request
// with a 400; `fb-sNN-…` reproduces scenario NN's fault. Written here from the catalogue's
// facts (no code of it): a fixed sixty-word answer streamed word by word, a prefill of a prefix
// of it answered with the rest, attempt counters per model, a log of every request.
// Durations are the catalogue's times multiplied by `scale` (tests run at 0.1).
import type { ServerResponse } from 'node:http'
import { startMockServer, sleep, type MockServer } from './server.ts'

/** Sixty words, so that an answer cut after forty is never mistaken for a whole one. */
export const WALL_ANSWER =
  'A gateway proves its worth on the day a provider fails. Limits hit without notice, streams break in the middle ' +
  'of a sentence, servers send broken bytes, and a model recovers while its breaker is still open. This reply holds ' +
  'exactly sixty words, so that a shortened reply can never pass for a whole one, whatever the gateway claims later.'

export const WALL_TIMINGS = {
  retryAfterS: 2, // sent as an integer header: not scaled
  slowFirstTokenS: 20,
  stallS: 30,
  noResponseS: 120,
  flapDownS: 60,
  tokenIntervalMs: 15,
  cutAfterTokens: 40,
  stallAfterTokens: 20,
  malformedAtToken: 10,
}

export interface WallEntry {
  t: number // seconds since reset
  model: string
  attempt: number
  lastRole: string | undefined
  action: string
}

export interface Wall extends MockServer {
  baseUrl: string
  log: WallEntry[]
  reset(): void
  /** Seconds since the last reset. */
  now(): number
}

type Behaviour = 'ok' | 'ok_noprefill' | '429_retry_after_once' | '429_persistent' | '500_once' | '503_persistent' | 'reset_once' | 'no_response'
  | 'slow_first_token' | 'stream_cut' | 'stream_stall' | 'malformed_chunk' | 'no_done' | 'context_length' | 'content_filter' | 'flap'

const BEHAVIOURS: Record<string, Behaviour> = {
  ok: 'ok', 'ok-noprefill': 'ok_noprefill', s01: '429_retry_after_once', s02: '429_persistent', s03: '500_once', s04: '503_persistent',
  s05: 'reset_once', s06: 'no_response', s07: 'slow_first_token', s08: 'stream_cut', s09: 'stream_stall', s10: 'malformed_chunk',
  s11: 'no_done', s12: 'context_length', s13: 'content_filter', s14: 'stream_cut', s15: 'flap', s16: '503_persistent',
}

export function behaviourOf(model: string): Behaviour | undefined {
  const name = model.slice(model.lastIndexOf('/') + 1).toLowerCase()
  if (!name.startsWith('fb-')) return undefined
  const rest = name.slice(3)
  return BEHAVIOURS[rest] ?? BEHAVIOURS[rest.split('-')[0]]
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}, param: string | null = null): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify({ error: { message, type, param, code } }))
}

export async function startWall(options: { scale?: number } = {}): Promise<Wall> {
  const scale = options.scale ?? 1
  const T = WALL_TIMINGS
  let t0 = performance.now()
  const counts = new Map<string, number>()
  const log: WallEntry[] = []
  const now = () => (performance.now() - t0) / 1000
  const words = WALL_ANSWER.split(' ')

  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: Object.keys(BEHAVIOURS).map((k) => ({ id: `fb-${k}`, object: 'model', created: 0, owned_by: 'wall' })) }))
      return
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') return sendError(res, 404, `No route for ${req.method} ${path}`, 'invalid_request_error', null)
    const body = recorded.body ?? {}
    const model = String(body.model ?? '')
    const attempt = (counts.get(model) ?? 0) + 1
    counts.set(model, attempt)
    const messages: Array<{ role?: string; content?: unknown }> = body.messages ?? []
    const last = messages.at(-1)
    const entry: WallEntry = { t: now(), model, attempt, lastRole: last?.role, action: '' }
    log.push(entry)
    const behaviour = behaviourOf(model)
    if (!behaviour) {
      entry.action = '404 model_not_found'
      return sendError(res, 404, `The model \`${model}\` does not exist`, 'invalid_request_error', 'model_not_found', {}, 'model')
    }
    // A prefill of a prefix of the answer gets the rest; anything else gets the whole answer.
    let answer = words
    let continuing = false
    if (last?.role === 'assistant') {
      if (behaviour === 'ok_noprefill') {
        entry.action = '400 prefill_rejected'
        return sendError(res, 400, 'This model does not support assistant message prefill. The conversation must end with a user message.', 'invalid_request_error', 'invalid_prefill', {}, 'messages')
      }
      const partial = typeof last.content === 'string' ? last.content.trim() : ''
      if (partial && WALL_ANSWER.startsWith(partial)) {
        answer = WALL_ANSWER.slice(partial.length).split(' ').filter(Boolean)
        continuing = true
      }
    }
    switch (behaviour) {
      case '429_retry_after_once':
        if (attempt === 1) {
          entry.action = `429 retry-after=${T.retryAfterS}`
          return sendError(res, 429, `Rate limit reached for ${model}.`, 'rate_limit_error', 'rate_limit_exceeded', { 'retry-after': String(T.retryAfterS) })
        }
        break
      case '429_persistent':
        entry.action = '429'
        return sendError(res, 429, `Rate limit reached for ${model}.`, 'rate_limit_error', 'rate_limit_exceeded')
      case '500_once':
        if (attempt === 1) {
          entry.action = '500'
          return sendError(res, 500, 'The server had an error while processing your request.', 'server_error', null)
        }
        break
      case '503_persistent':
        entry.action = '503'
        return sendError(res, 503, 'The engine is currently overloaded. Please try again later.', 'server_error', 'overloaded')
      case 'flap':
        if (now() < T.flapDownS * scale) {
          entry.action = '503 (down window)'
          return sendError(res, 503, 'The engine is currently overloaded. Please try again later.', 'server_error', 'overloaded')
        }
        entry.action = '200 (recovered)'
        break
      case 'reset_once':
        if (attempt === 1) {
          entry.action = 'tcp-reset'
          req.socket.resetAndDestroy()
          return
        }
        break
      case 'no_response':
        entry.action = 'no-response'
        setTimeout(() => res.socket?.destroy(), T.noResponseS * 1000 * scale).unref()
        return
      case 'context_length':
        entry.action = '400 context_length_exceeded'
        return sendError(res, 400, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9631 tokens.", 'invalid_request_error', 'context_length_exceeded', {}, 'messages')
      case 'content_filter':
        entry.action = '400 content_policy_violation'
        return sendError(res, 400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation')
    }
    entry.action ||= '200'
    const includeUsage = body.stream_options?.include_usage === true
    const promptTokens = messages.reduce((n, m) => n + String(m.content ?? '').split(/\s+/).length + 4, 0)
    const id = `chatcmpl-wall-${log.length}`
    const text = (i: number) => (i > 0 || continuing ? ' ' : '') + answer[i]
    if (!body.stream) {
      const content = answer.map((_, i) => text(i)).join('')
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: promptTokens, completion_tokens: answer.length, total_tokens: promptTokens + answer.length } }))
      return
    }
    const created = Math.floor(Date.now() / 1000)
    const chunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    res.flushHeaders()
    if (behaviour === 'slow_first_token') await sleep(T.slowFirstTokenS * 1000 * scale)
    res.write(chunk({ role: 'assistant', content: '' }))
    for (let i = 0; i < answer.length; i++) {
      if (res.destroyed) return
      if (behaviour === 'stream_cut' && i === T.cutAfterTokens) {
        entry.action = `200 stream cut after ${i} tokens`
        return void res.socket?.destroy()
      }
      if (behaviour === 'stream_stall' && i === T.stallAfterTokens) {
        entry.action = `200 stream stalled after ${i} tokens`
        await sleep(T.stallS * 1000 * scale)
        return void res.socket?.destroy()
      }
      if (behaviour === 'malformed_chunk' && i === T.malformedAtToken) {
        entry.action = `200 stream with a malformed event at token ${i}`
        res.write(`data: {"id": "${id}", "object": "chat.completion.chunk", "choices": [{"delta": {"content": \n\n`)
      }
      res.write(chunk({ content: text(i) }))
      await sleep(T.tokenIntervalMs * scale)
    }
    res.write(chunk({}, 'stop'))
    if (includeUsage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: answer.length, total_tokens: promptTokens + answer.length } })}\n\n`)
    if (behaviour === 'no_done') entry.action = '200 stream complete, [DONE] omitted'
    else res.write('data: [DONE]\n\n')
    res.end()
  })
  return {
    ...server,
    baseUrl: `${server.origin}/v1`,
    log,
    now,
    reset() {
      t0 = performance.now()
      counts.clear()
      log.length = 0
    },
  }
}
