// A mock Pollinations text server (PROTOCOLS.md §5) with both URL layouts:
// - legacy text.pollinations.ai: POST `/openai` (an OpenAI body, plus `private`/`referrer`)
//   answering OpenAI JSON or SSE, and GET `/models` as an array of `{name, aliases, …}`;
// - gen.pollinations.ai: POST `/v1/chat/completions` and GET `/v1/models` (OpenAI list).
// Its own failure bodies: the anonymous 429, the 402 "Insufficient balance"
// (`{"success":false,"error":{message,code:"PAYMENT_REQUIRED"},"status":402}`, seen in
// pollinations/pollinations#9924) and the x402 "Queue full for IP" 402 (#11603).
import { startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'
import { completionFor, streamFrames, type Answer } from './openai.ts'

export type PollinationsStep = Answer | Fault

export interface PollinationsMock extends MockServer {
  /** POLLINATIONS_BASE_URL for the legacy layout: `{origin}/openai`. */
  legacyBaseUrl: string
  /** POLLINATIONS_BASE_URL for the gen layout: `{origin}/v1`. */
  genBaseUrl: string
  script(...steps: PollinationsStep[]): void
  fallback: Answer
  chatRequests(): RecordedRequest[]
}

/** Legacy /models entries, shaped as text.pollinations.ai lists them. */
export const LEGACY_MODELS = [
  { name: 'openai', description: 'OpenAI GPT-5 Nano', aliases: ['gpt-5-nano'], input_modalities: ['text', 'image'], output_modalities: ['text'], tools: true, vision: true, audio: false },
  { name: 'mistral', description: 'Mistral Small 3.2 24B', aliases: [], input_modalities: ['text'], output_modalities: ['text'], tools: true, vision: false, audio: false },
  { name: 'openai-audio', description: 'OpenAI GPT-4o Mini Audio', aliases: ['gpt-4o-mini-audio'], input_modalities: ['text', 'audio'], output_modalities: ['audio'], tools: false, vision: false, audio: true },
]

/** The anonymous per-IP limit. [guess: the exact legacy 429 body is not documented] */
export function rateLimited(retryAfterSeconds?: number): Fault {
  return {
    fault: 'status', status: 429,
    body: { error: 'Too Many Requests', message: 'Rate limit exceeded: anonymous users may send 1 request every 3 s. Get a token at https://enter.pollinations.ai', status: 429 },
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  }
}

export function insufficientBalance(retryAfterSeconds?: number): Fault {
  return {
    fault: 'status', status: 402,
    body: { success: false, error: { message: 'Insufficient balance. This model costs ~0.0136 pollen per request, but your available balance is 0.0000.', code: 'PAYMENT_REQUIRED', timestamp: '2026-04-04T09:11:31.491Z' }, status: 402 },
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  }
}

export function queueFull402(): Fault {
  return {
    fault: 'status', status: 402,
    body: { x402Version: 1, error: 'Queue full for IP: 127.0.0.1: 1 requests already queued (max: 1). Get unlimited access at https://enter.pollinations.ai', accepts: [{ scheme: 'exact', network: 'base', maxAmountRequired: '1000', description: 'Pollinations legacy text — pay to bypass rate limit' }] },
  }
}

export async function startPollinationsMock(): Promise<PollinationsMock> {
  const queue: PollinationsStep[] = []
  let mock: PollinationsMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method === 'GET' && path === '/models') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(LEGACY_MODELS))
      return
    }
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: ['openai', 'openai-fast', 'gemini'].map((id) => ({ id, object: 'model', created: 1750000000, owned_by: 'pollinations' })) }))
      return
    }
    if (req.method === 'POST' && (path === '/openai' || path === '/v1/chat/completions')) {
      let step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, step)) return
        step = queue.shift() ?? mock.fallback
      }
      const answer = step as Answer
      const body = recorded.body
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
        await writeFrames(res, streamFrames(body.model, answer, body.stream_options?.include_usage === true))
        return void res.end()
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(completionFor(body.model, answer)))
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'Not Found', status: 404 }))
  })
  mock = {
    ...server,
    legacyBaseUrl: `${server.origin}/openai`,
    genBaseUrl: `${server.origin}/v1`,
    script: (...steps) => void queue.push(...steps),
    fallback: { content: 'Hello from Pollinations' },
    chatRequests: () => server.requests.filter((r) => r.method === 'POST'),
  }
  return mock
}
