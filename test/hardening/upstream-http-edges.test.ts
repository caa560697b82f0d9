// Issue 9 item 18 (the HTTP edges): `max_tokens`/`seed` of 1e308 are refused; a body with a
// Content-Encoding is a 415 (Fastify does not decompress, and a "gzip" body that was not gzip
// was accepted); unknown routes, bad percent-encoding, oversized URLs and headers, and
// unparsable requests are answered in the OpenAI envelope like every other error.
import t from 'tap'
import net from 'node:net'
import { gzipSync } from 'node:zlib'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'

/** One raw HTTP exchange (for what fetch refuses to send): status and parsed JSON body. */
async function raw(gw: Gateway, request: string): Promise<{ status: number; json: any; text: string }> {
  const { port } = new URL(gw.url)
  const text = await new Promise<string>((resolve, reject) => {
    let out = ''
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request))
    socket.on('data', (d) => { out += d })
    socket.on('close', () => resolve(out))
    socket.on('error', reject)
  })
  const [head, ...rest] = text.split('\r\n\r\n')
  const body = rest.join('\r\n\r\n')
  let json: any
  try { json = JSON.parse(body) } catch { json = undefined }
  return { status: Number(head.split(' ')[1]), json, text }
}

const isEnvelope = (json: any) =>
  typeof json?.error?.message === 'string' && typeof json.error.type === 'string' && 'param' in json.error && 'code' in json.error

t.test('integers within sane bounds', async (t) => {
  const upstream = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'up', UP_BASE_URL: upstream.baseUrl, UP_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }
  for (const [field, value] of [['max_tokens', 1e308], ['max_completion_tokens', 1e308], ['seed', 1e308], ['seed', -1e308], ['max_tokens', 2 ** 31]] as const) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, `{"model":"m","messages":[{"role":"user","content":"hi"}],"${field}":${value}}`)
    t.equal(res.status, 400, `${field}=${value}`)
    t.equal(res.json.error.param, field)
  }
  t.equal(upstream.chatRequests().length, 0, 'nothing went upstream')
  const ok = await postJson(`${gw.url}/v1/chat/completions`, { ...base, max_tokens: 2 ** 31 - 1, seed: Number.MAX_SAFE_INTEGER })
  t.equal(ok.status, 200, 'the bounds themselves are accepted')
  t.equal(upstream.chatRequests()[0].body.seed, Number.MAX_SAFE_INTEGER, 'the seed arrives exactly')
})

t.test('the other dialects bound their token counts too: Messages max_tokens/top_k, Responses max_output_tokens', async (t) => {
  const upstream = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'up', UP_BASE_URL: upstream.baseUrl, UP_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const cases = [
    ['/v1/messages', `{"model":"m","max_tokens":1e308,"messages":[{"role":"user","content":"hi"}]}`, 'invalid_request_error'],
    ['/v1/messages', `{"model":"m","max_tokens":10,"top_k":1e308,"messages":[{"role":"user","content":"hi"}]}`, 'invalid_request_error'],
    ['/v1/responses', `{"model":"m","max_output_tokens":1e308,"input":"hi"}`, undefined],
  ] as const
  for (const [path, body, anthropicType] of cases) {
    const res = await postJson(`${gw.url}${path}`, body)
    t.equal(res.status, 400, `${path} ${body}`)
    if (anthropicType) t.equal(res.json.error.type, anthropicType, 'in the Anthropic envelope')
    else t.ok(isEnvelope(res.json), 'in the OpenAI envelope')
  }
  t.equal(upstream.chatRequests().length, 0, 'nothing went upstream')
})

t.test('Content-Encoding: 415 unsupported_media_type, gzip or not', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  for (const [label, payload] of [['not gzip at all', Buffer.from(body)], ['real gzip', gzipSync(body)]] as const) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: payload })
    const json = await res.json() as any
    t.equal(res.status, 415, label)
    t.equal(json.error.code, 'unsupported_media_type')
    t.match(json.error.message, /Content-Encoding "gzip" is not supported/)
  }
  const identity = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, body })
  t.not(identity.status, 415, 'identity is no encoding')
})

t.test('errors before routing come in the OpenAI envelope', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const cases: Array<[string, string, number, string]> = [
    ['unknown route', 'GET /v2/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404, 'not_found'],
    ['bad percent-encoding', 'GET /v1/models/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'invalid_url'],
    ['too-long URL', `GET /v1/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 431, 'request_header_fields_too_large'],
    ['too-large header', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`, 431, 'request_header_fields_too_large'],
    ['unparsable request line', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
  ]
  for (const [label, request, status, code] of cases) {
    const res = await raw(gw, request)
    t.equal(res.status, status, label)
    t.ok(isEnvelope(res.json), `${label}: ${res.text.slice(0, 200)}`)
    t.equal(res.json?.error?.code, code, label)
  }
})
