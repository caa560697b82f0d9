// Native passthrough of the OpenAI Responses API: when a /v1/responses request is served by
// the `openai` provider, the client's own body goes to the upstream's /responses (model
// replaced), and its answer comes back as internal chunks/completion that also carry the
// upstream's own bytes (NATIVE_WIRE) for the Responses encoder. Used by providers/openai.ts.
import { NATIVE, type CallContext, type ChatChunk, type ChatRequest, type ChatResult } from './contract.ts'
import { readBounded, sseEventBatches, type BodyStream, type UpstreamHttp } from './http/index.ts'
import { toUpstreamError, UpstreamError } from './upstream-error.ts'
import { NativeEventReader, responseToCompletion } from '../dialects/openai-responses/upstream.ts'
import { parseUpstreamJson } from './json-depth.ts'

/** Whether this request came from the Responses route with a body to pass through. */
export function isNativeResponses(req: ChatRequest): boolean {
  return req[NATIVE]?.dialect === 'openai-responses'
}

async function* nativeChunks(body: BodyStream, signal: AbortSignal): AsyncGenerator<ChatChunk> {
  const reader = new NativeEventReader()
  for await (const events of sseEventBatches(body, signal)) {
    for (const event of events) {
      const chunk = reader.accept(event.event, event.data)
      if (chunk) yield chunk
      if (reader.finished) return
    }
  }
  reader.end()
}

export async function nativeResponses(http: UpstreamHttp, baseUrl: string, headers: Record<string, string>, req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
  const native = req[NATIVE]!
  const json: Record<string, unknown> = { ...native.body, model: req.model }
  const request = { url: `${baseUrl}/responses`, headers: { ...native.headers, ...headers }, json }
  if (json.stream === true) {
    const res = await http.request({ ...request, expect: 'sse' }, ctx)
    return nativeChunks(res.body, ctx.signal)
  }
  const res = await http.request({ ...request, expect: 'json' }, ctx)
  let text: string
  try {
    // Capped as every JSON body (UPSTREAM_MAX_BODY_BYTES); the text is kept: it is what the client gets.
    text = (await readBounded(res.body, http.limits.maxBodyBytes, res.headers['content-length'])).toString('utf8')
  } catch (err) {
    throw toUpstreamError(err, ctx.signal)
  }
  let parsed
  try {
    parsed = parseUpstreamJson(text)
  } catch (err) {
    if (err instanceof UpstreamError) throw err
    throw new UpstreamError('malformed', `truncated or invalid JSON from the Responses upstream (${text.length} bytes)`, { status: res.status })
  }
  return responseToCompletion(parsed, text)
}
