// Request limits: BODY_LIMIT_BYTES → 413 and a wrong content type → 415, both in the OpenAI
// envelope and before any upstream is asked; the default limit lets image inputs through.
import t from 'tap'
import http from 'node:http'
import { startTiers, MODEL } from './setup.ts'
import { DEFAULT_BODY_LIMIT_BYTES } from '../../config.ts'

const envelopeKeys = (json: any) => Object.keys(json.error).sort()

/** Raw POST with node:http: chunked bodies and exact headers, which fetch does not allow. */
function rawPost(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(parts).toString() || 'null') }))
    })
    req.on('error', reject)
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })
}

t.test('the default body limit lets a multi-megabyte base64 image through', async (t) => {
  t.ok(DEFAULT_BODY_LIMIT_BYTES >= 20 * 1024 * 1024, 'default: 20 MiB')
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }])
  const image = `data:image/png;base64,${Buffer.alloc(4 * 1024 * 1024, 7).toString('base64')}` // ~5.6 MB
  const answer = await gw.client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: image } }] }],
  })
  t.equal(answer.choices[0].message.content, 'Hello from first')
  t.equal(mocks.first.chatRequests()[0].body.messages[0].content[1].image_url.url, image, 'the image reached the upstream intact')
})

t.test('over BODY_LIMIT_BYTES: 413 in the OpenAI envelope, nothing sent upstream', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }], { BODY_LIMIT_BYTES: '65536' })
  const body = Buffer.from(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }))

  const declared = await rawPost(`${gw.url}/v1/chat/completions`, { 'content-type': 'application/json', 'content-length': String(body.length) }, [body])
  t.equal(declared.status, 413, 'with Content-Length')
  t.same(envelopeKeys(declared.json), ['code', 'message', 'param', 'type'])
  t.equal(declared.json.error.code, 'request_too_large')
  t.equal(declared.json.error.type, 'invalid_request_error')
  t.match(declared.json.error.message, /BODY_LIMIT_BYTES/)

  const chunked = await rawPost(`${gw.url}/v1/chat/completions`, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, [body.subarray(0, 40_000), body.subarray(40_000)])
  t.equal(chunked.status, 413, 'chunked, without Content-Length: counted as it arrives')
  t.equal(chunked.json.error.code, 'request_too_large')

  const sdk = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }).catch((e) => e)
  t.equal(sdk.status, 413, 'the SDK gets a typed 413')
  t.equal(mocks.first.chatRequests().length, 0, 'no upstream was asked')

  const under = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(60_000) }] })
  t.equal(under.choices[0].message.content, 'Hello from first', 'just under the limit passes')
})

t.test('a body that is not JSON: 415 in the OpenAI envelope', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }])
  const json = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': contentType }, body: json })
    t.equal(res.status, 415, contentType)
    const body = await res.json() as any
    t.same(envelopeKeys(body), ['code', 'message', 'param', 'type'])
    t.equal(body.error.code, 'unsupported_media_type')
    t.match(body.error.message, /application\/json/)
  }
  const charset = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: json })
  t.equal(charset.status, 200, 'application/json with a charset is fine')
  t.equal(mocks.first.chatRequests().length, 1, 'only the JSON request reached the upstream')
})
