// A mock G4F API server (PROTOCOLS.md §7, g4f/api/__init__.py): `/v1/...` for the main
// endpoint and `/api/{provider}/...` for per-provider bases (as on g4f.space), each with
// `/models` and `/chat/completions`. `/v1/models` lists provider names too (`provider: true`).
// With an API key set, chat paths need `g4f-api-key` or Bearer (401 "G4F API key required",
// 403 for a wrong key); `/models` paths are exempt. Errors are `{"error":{"message"},…}`;
// inside a stream, `data: {"error":…,"model","provider"}` then `data: [DONE]`.
import type { ServerResponse } from 'node:http'
import { startMockServer, writeFrames, type MockServer, type RecordedRequest } from './server.ts'
import { isFault, playFault, type Fault } from './faults.ts'
import { completionFor, streamFrames, type Answer } from './openai.ts'

export interface G4FAnswer extends Answer {
  /** Stream: after N frames, G4F's in-stream error and `[DONE]`. */
  g4fErrorAfter?: number
}
export type G4FStep = G4FAnswer | Fault

/** `main` is `/v1`; any other name is `/api/{name}`. */
export type G4FEndpointName = string

export interface G4FMock extends MockServer {
  /** The base URL of one endpoint, as G4F_<NAME>_API_BASE is set. */
  base(endpoint: G4FEndpointName): string
  /** Models each endpoint lists. */
  models: Record<G4FEndpointName, string[]>
  /** Provider names `/v1/models` lists beside models. */
  providerNames: string[]
  /** Models `/v1/models` lists as image generators (`image: true`). */
  imageModels: string[]
  script(...steps: G4FStep[]): void
  fallback: G4FAnswer
  chatRequests(): RecordedRequest[]
  /** Which endpoint each chat request reached, in order. */
  chatEndpoints(): G4FEndpointName[]
}

/** G4F's error body. */
export function g4fError(status: number, message: string, extra: { model?: string; provider?: string } = {}): Fault {
  return { fault: 'status', status, body: { error: { message }, ...extra } }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** `/v1/chat/completions` → main; `/api/groq/chat/completions` → groq. */
function route(path: string): { endpoint: G4FEndpointName; rest: string } | undefined {
  if (path.startsWith('/v1/')) return { endpoint: 'main', rest: path.slice(3) }
  const m = /^\/api\/([^/]+)(\/.*)$/.exec(path)
  return m ? { endpoint: m[1], rest: m[2] } : undefined
}

/** The G4F key from the request: its own header, or the first token of a Bearer value. */
function presentedKey(headers: RecordedRequest['headers']): string | undefined {
  const own = headers['g4f-api-key']
  if (typeof own === 'string' && own) return own
  const auth = headers.authorization
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim().split(/\s+/)[0] || undefined
  return undefined
}

export async function startG4FMock(options: { apiKey?: string; models?: Record<G4FEndpointName, string[]> } = {}): Promise<G4FMock> {
  const queue: G4FStep[] = []
  let mock: G4FMock
  const server = await startMockServer(async (req, res, recorded) => {
    const path = (req.url ?? '').split('?')[0]
    const target = route(path)
    if (!target) return send(res, 404, { detail: 'Not Found' })
    const known = target.endpoint === 'main' || target.endpoint in mock.models
    if (!known) return send(res, 404, { error: { message: `ProviderNotFoundError: Provider not found: ${target.endpoint}` } })

    if (req.method === 'GET' && target.rest === '/models') {
      const models = (mock.models[target.endpoint] ?? []).map((id) => ({ id, object: 'model', created: 0, owned_by: target.endpoint, image: false, vision: false, provider: false }))
      if (target.endpoint === 'main') {
        models.push(...mock.imageModels.map((id) => ({ id, object: 'model', created: 0, owned_by: 'PollinationsAI', image: true, vision: false, provider: false })))
        models.push(...mock.providerNames.map((id) => ({ id, object: 'model', created: 0, owned_by: id, image: false, vision: false, provider: true })))
      }
      return send(res, 200, { object: 'list', data: models })
    }

    if (options.apiKey) {
      const key = presentedKey(req.headers)
      if (!key) return send(res, 401, { error: { message: 'G4F API key required' } })
      if (key !== options.apiKey) return send(res, 403, { error: { message: 'Invalid G4F API key' } })
    }

    if (req.method === 'POST' && target.rest === '/chat/completions') {
      const body = recorded.body
      if (!body?.model || !Array.isArray(body.messages)) {
        return send(res, 422, { detail: [{ type: 'missing', loc: ['body', 'messages'], msg: 'Field required' }] })
      }
      let step = queue.shift() ?? mock.fallback
      if (isFault(step)) {
        if (await playFault(res, step)) return
        step = queue.shift() ?? mock.fallback
      }
      const answer = step as G4FAnswer
      if (!body.stream) return send(res, 200, completionFor(body.model, answer))
      const frames = streamFrames(body.model, answer, body.stream_options?.include_usage === true)
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      if (answer.g4fErrorAfter === undefined) {
        await writeFrames(res, frames)
        return void res.end()
      }
      await writeFrames(res, frames.slice(0, answer.g4fErrorAfter))
      const error = { error: { message: 'RateLimitError: Response 429: Rate limit reached' }, model: body.model, provider: 'PollinationsAI' }
      res.end(`data: ${JSON.stringify(error)}\n\ndata: [DONE]\n\n`)
      return
    }
    send(res, 404, { detail: 'Not Found' })
  })
  mock = {
    ...server,
    base: (endpoint) => (endpoint === 'main' ? `${server.origin}/v1` : `${server.origin}/api/${endpoint}`),
    models: options.models ?? { main: ['gpt-4o-mini', 'deepseek-v3'] },
    providerNames: ['PollinationsAI', 'Blackbox', 'OpenaiChat'],
    imageModels: ['flux'],
    script: (...steps) => void queue.push(...steps),
    fallback: { content: 'Hello from G4F' },
    chatRequests: () => server.requests.filter((r) => r.url.endsWith('/chat/completions')),
    chatEndpoints: () => server.requests.filter((r) => r.url.endsWith('/chat/completions')).map((r) => route(r.url.split('?')[0])!.endpoint),
  }
  return mock
}
