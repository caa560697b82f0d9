// The SSE reader against what real upstreams put on the wire: comment lines
// (`: OPENROUTER PROCESSING`), CRLF line ends, multi-line `data:`, events and even UTF-8
// characters split across TCP writes, `choices: []` and `choices: null` usage chunks.
import t, { type Test as Tap } from 'tap'
import { startMockServer, sleep } from '../mocks/server.ts'
import { startGateway } from '../helpers/gateway.ts'

const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null, ...extra })

async function rawUpstream(t: Tap, wire: Buffer[]) {
  const mock = await startMockServer(async (req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'x' }] }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    for (const piece of wire) {
      res.write(piece)
      await sleep(2) // separate TCP writes
    }
    res.end()
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'raw', RAW_BASE_URL: `${mock.origin}/v1` })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return gw
}

t.test('comments, CRLF, multi-line data, split events and split UTF-8 characters', async (t) => {
  const content = 'Grüße 👋 done'
  const events = [
    ': OPENROUTER PROCESSING\r\n\r\n',
    `data: ${chunk({ role: 'assistant', content: '' })}\r\n\r\n`,
    // One JSON object spread over two data lines (joined with \n, still valid JSON).
    `data: ${chunk({ content: content.slice(0, 6) }).replace('"choices":', '"choices":\ndata: ')}\n\n`,
    `: keep-alive\n\ndata: ${chunk({ content: content.slice(6) })}\n\n`,
    `data: ${chunk({}, 'stop')}\n\n`,
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } })}\n\n`,
    'data: [DONE]\n\n',
  ]
  // Cut the byte stream at awkward places: inside "data:", inside JSON, inside the emoji.
  const bytes = Buffer.from(events.join(''), 'utf8')
  const emoji = bytes.indexOf(Buffer.from('👋'))
  const cuts = [3, 40, emoji + 2, emoji + 3, bytes.length - 5].sort((a, b) => a - b)
  const wire: Buffer[] = []
  let from = 0
  for (const cut of cuts) { wire.push(bytes.subarray(from, cut)); from = cut }
  wire.push(bytes.subarray(from))

  const gw = await rawUpstream(t, wire)
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? ''
    if (c.usage) usage = c.usage
  }
  t.equal(text, content)
  t.same(usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 })
})

t.test('vLLM-style `choices: null` usage chunk is passed on as `choices: []`', async (t) => {
  const gw = await rawUpstream(t, [Buffer.from([
    `data: ${chunk({ role: 'assistant', content: 'ok' })}\n\n`,
    `data: ${chunk({}, 'stop')}\n\n`,
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: null, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })}\n\n`,
    'data: [DONE]\n\n',
  ].join(''))])
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }) })
  const frames = (await res.text()).split('\n\n').filter(Boolean)
  const usageFrame = JSON.parse(frames.at(-2)!.slice(6))
  t.same(usageFrame.choices, [])
  t.equal(usageFrame.usage.total_tokens, 2)
  t.equal(frames.at(-1), 'data: [DONE]')
})

t.test('a stream that stops without [DONE] or finish_reason is reported as cut, not complete', async (t) => {
  const gw = await rawUpstream(t, [Buffer.from(`data: ${chunk({ role: 'assistant', content: 'The answer is' })}\n\n`)])
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }) })
  const text = await res.text()
  t.notOk(text.split('\n\n').includes('data: [DONE]'), 'no [DONE] frame')
  t.match(text, /"error":\{"message":"The stream from raw failed after it had started: the upstream stream ended before \[DONE\]/)
})
