// Issue 9 item 10: five requests with a 10⁵-deep passthrough field once made JSON.stringify
// throw in the transport, counted as a connection fault: every breaker opened and nothing
// served for 30 s. Now a body nested deeper than BODY_MAX_DEPTH is a 400 before routing, and
// a request the transport cannot serialize is the client's fault (400, nothing counted).
// Local resource errors (EMFILE, …) are `local_resource`, never the provider's fault.
import t, { type Test } from 'tap'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { nestsDeeperThan } from '../../providers/json-depth.ts'
import { UpstreamHttp } from '../../providers/http/index.ts'
import { UpstreamError, toUpstreamError } from '../../providers/upstream-error.ts'

/** `{"a":{"a":…1…}}`, `depth` objects deep, written as text (no recursion to build it). */
const deepJson = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
const chatBody = (extraDepth: number) => `{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata_extra":${deepJson(extraDepth)}}`

async function setup(t: Test, env: Record<string, string> = {}) {
  const upstream = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'solo', SOLO_BASE_URL: upstream.baseUrl, SOLO_MODELS: 'm', BREAKER_VOLUME_THRESHOLD: '2', ...env })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  return { upstream, gw }
}

async function breakerOf(url: string, name: string): Promise<{ state: string; provider: string }> {
  const status = await (await fetch(`${url}/providers`)).json() as { providers: Array<{ name: string; breaker: { state: string; provider: string } }> }
  return status.providers.find((p) => p.name === name)!.breaker
}

t.test('nestsDeeperThan: a table', async (t) => {
  const cases: Array<[unknown, number, boolean]> = [
    ['text', 1, false], [null, 1, false], [{}, 1, false], [{ a: {} }, 1, true], [{ a: {} }, 2, false],
    [[[[]]], 2, true], [[[[]]], 3, false], [{ a: [{ b: 1 }] }, 3, false], [{ a: [{ b: {} }] }, 3, true],
    [JSON.parse(deepJson(100_000)), 64, true], [JSON.parse(deepJson(64)), 64, false],
  ]
  for (const [value, max, deeper] of cases) t.equal(nestsDeeperThan(value, max), deeper, `case ${cases.findIndex((c) => c[0] === value)} vs ${max}`)
})

t.test('a 10⁵-deep passthrough field: 400 naming BODY_MAX_DEPTH, the upstream never asked, no breaker moves', async (t) => {
  const { upstream, gw } = await setup(t)
  for (let i = 0; i < 5; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody(100_000))
    t.equal(res.status, 400)
    t.equal(res.json.error.code, 'body_too_deep')
    t.match(res.json.error.message, /64 levels deep \(BODY_MAX_DEPTH\)/)
  }
  t.equal(upstream.chatRequests().length, 0, 'nothing reached the upstream')
  t.same(await breakerOf(gw.url, 'solo'), { ...(await breakerOf(gw.url, 'solo')), state: 'closed', provider: 'closed' })
  const ok = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(ok.choices[0].message.content, 'Hello from mock', 'the provider still serves')
})

t.test('the Anthropic route answers the depth limit in its own envelope', async (t) => {
  const { gw } = await setup(t)
  const res = await postJson(`${gw.url}/v1/messages`, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${deepJson(1000)}}`)
  t.equal(res.status, 400)
  t.equal(res.json.type, 'error')
  t.match(res.json.error.message, /BODY_MAX_DEPTH/)
})

t.test('a body the transport cannot serialize is a client fault: 400, not counted against the breaker', async (t) => {
  // Under a raised limit the body passes the depth check, and JSON.stringify overflows its stack.
  const { upstream, gw } = await setup(t, { BODY_MAX_DEPTH: '10000' })
  for (let i = 0; i < 4; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody(8000))
    t.equal(res.status, 400, res.text.slice(0, 200))
    t.match(res.json?.error?.message, /could not be serialized/)
  }
  t.equal(upstream.chatRequests().length, 0, 'nothing reached the upstream')
  const breaker = await breakerOf(gw.url, 'solo')
  t.equal(breaker.state, 'closed', 'four client faults opened no breaker (volume threshold 2)')
  t.equal(breaker.provider, 'closed')
  const ok = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(ok.choices[0].message.content, 'Hello from mock')
})

t.test('UpstreamHttp: a body that cannot be serialized throws a client-fault UpstreamError before any I/O', async (t) => {
  const http = new UpstreamHttp()
  t.teardown(() => http.close())
  const deep = JSON.parse(deepJson(100_000))
  const err = await http.request({ url: 'http://127.0.0.1:9/v1/chat/completions', json: deep, expect: 'json' }, { signal: new AbortController().signal, timeouts: { connectMs: 100, firstByteMs: 100, idleMs: 100, totalMs: 100 } }).catch((e) => e)
  t.ok(err instanceof UpstreamError)
  t.equal(err.kind, 'client')
  t.equal(err.status, 400)
  t.ok(err.isClientFault)
})

t.test('local resource errors are local_resource, never connection faults', async (t) => {
  for (const code of ['EMFILE', 'ENFILE', 'ENOBUFS', 'EADDRNOTAVAIL']) {
    const err = Object.assign(new Error(`connect ${code}`), { code })
    t.equal(toUpstreamError(err).kind, 'local_resource', code)
    t.equal(toUpstreamError(Object.assign(new Error('fetch failed'), { cause: { code } })).kind, 'local_resource', `${code} as a cause`)
  }
  t.equal(toUpstreamError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).kind, 'connection')
})
