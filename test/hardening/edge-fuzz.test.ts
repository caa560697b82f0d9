// A hostile client sending mutated requests — wrong types, extremes, dropped and unknown
// fields — to every dialect's endpoint gets a 4xx in its own dialect or an answer, never a 5xx
// or an unhandled error. Seeded: the same 2,400 requests on every run.
import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { mutate, seededRandom } from '../helpers/mutate.ts'

const REQUESTS_PER_ENDPOINT = 600
const EXTRA_KEYS = ['tools', 'tool_choice', 'response_format', 'stop', 'n', 'stream_options', 'thinking', 'system', 'metadata', 'instructions', 'reasoning', 'text', 'input', 'previous_response_id', 'max_output_tokens', 'logit_bias', 'seed', 'user', 'session_id']
const chat = { model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c', content: 'r' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], tool_choice: 'auto', response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } }, stop: ['a'], stream_options: { include_usage: true } }
const messages = { model: 'm', max_tokens: 10, system: [{ type: 'text', text: 's' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }, { type: 'thinking', thinking: 'x', signature: 's' }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'r' }] }] }], tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'auto' }, thinking: { type: 'enabled', budget_tokens: 1024 }, stop_sequences: ['x'] }
const responses = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA' }] }, { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'r' }], instructions: 'be', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }], text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } }, reasoning: { effort: 'low' }, store: true }
const ENDPOINTS: Array<[string, object]> = [['/v1/chat/completions', chat], ['/v1/messages', messages], ['/v1/responses', responses], ['/v1/messages/count_tokens', messages]]

t.test(`${ENDPOINTS.length * REQUESTS_PER_ENDPOINT} mutated requests: never a 5xx`, async (t) => {
  const upstream = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'up', UP_BASE_URL: upstream.baseUrl, UP_MODELS: 'm', RATE_LIMIT_MAX: '0' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const random = seededRandom(7)
  const failures: string[] = []
  const answered = new Map<string, number>()
  for (const [path, base] of ENDPOINTS) {
    for (let i = 0; i < REQUESTS_PER_ENDPOINT; i++) {
      const body = mutate(base, random, EXTRA_KEYS) as Record<string, unknown>
      if (random() < 0.3) body.stream = random() < 0.5
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) })
      const text = await res.text()
      if (res.status === 200) answered.set(path, (answered.get(path) ?? 0) + 1)
      if (res.status >= 500 || /internal error/.test(text)) failures.push(`${path}: ${res.status} ${text.slice(0, 200)} <= ${JSON.stringify(body).slice(0, 400)}`)
    }
  }
  t.same(failures.slice(0, 5), [], `no 5xx (${failures.length} failed)`)
  t.same(gw.logs.filter((l) => l.includes('"unhandled error"')).slice(0, 3), [], 'no unhandled error logged')
  // The mutations leave many requests valid: the answered path is exercised too, not only validation.
  for (const [path] of ENDPOINTS) t.ok((answered.get(path) ?? 0) > REQUESTS_PER_ENDPOINT / 5, `${path}: ${answered.get(path) ?? 0} answered`)
})
