// Issue 9 item 9: `retry-after: 99999999` cooled a key for 3.2 years and was returned to the
// client as is. The wait an upstream asks for is capped at parse time (MAX_KEY_COOLDOWN_MS,
// default 1 h): the key's cool-down and the Retry-After the gateway returns both stay under it.
import t from 'tap'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { retryAfterMs } from '../../providers/retry-after.ts'

const NOW = Date.parse('2026-12-01T10:00:00Z')
const HOUR_MS = 3_600_000

t.test('retryAfterMs: every header form is capped', async (t) => {
  const cases: Array<[Record<string, string>, number | undefined, string]> = [
    [{ 'retry-after': '99999999' }, HOUR_MS, 'seconds far beyond the cap'],
    [{ 'retry-after': '30' }, 30_000, 'seconds under the cap'],
    [{ 'retry-after-ms': '1e15' }, HOUR_MS, 'retry-after-ms beyond the cap'],
    [{ 'retry-after': 'Fri, 01 Dec 2100 10:00:00 GMT' }, HOUR_MS, 'an HTTP date in 2100'],
    [{ 'retry-after': 'Tue, 01 Dec 2026 10:00:20 GMT' }, 20_000, 'an HTTP date 20 s away'],
    [{ 'x-ratelimit-reset-requests': '9999h' }, HOUR_MS, 'OpenAI reset duration'],
    [{ 'x-ratelimit-reset-tokens': '6m0s' }, 360_000, 'under the cap'],
    [{}, undefined, 'no header: no wait asked'],
  ]
  for (const [headers, expected, what] of cases) t.equal(retryAfterMs(headers, NOW), expected, what)
  t.equal(retryAfterMs({ 'retry-after': '99999999' }, NOW, 60_000), 60_000, 'the cap is a parameter (MAX_KEY_COOLDOWN_MS)')
})

for (const [label, env, capS] of [['default 1 h', {}, 3600], ['MAX_KEY_COOLDOWN_MS=60000', { MAX_KEY_COOLDOWN_MS: '60000' }, 60]] as const) {
  t.test(`429 with retry-after: 99999999 → cool-down and Retry-After capped (${label})`, async (t) => {
    const upstream = await startOpenAIMock({ models: ['m'] })
    const gw = await startGateway({ CUSTOM_PROVIDERS: 'solo', SOLO_BASE_URL: upstream.baseUrl, SOLO_MODELS: 'm', SOLO_API_KEY: 'sk-solo-1', ...env })
    t.teardown(async () => { await gw.close(); await upstream.close() })
    upstream.script({ fault: 'status', status: 429, headers: { 'retry-after': '99999999' } })
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    t.equal(res.status, 429)
    const retryAfter = Number(res.headers.get('retry-after'))
    t.ok(retryAfter > 0 && retryAfter <= capS, `Retry-After ${retryAfter} s (cap ${capS} s)`)
    const status = await (await fetch(`${gw.url}/providers`)).json() as { providers: Array<{ name: string; keys: Array<{ state: string; availableInMs: number }> }> }
    const key = status.providers.find((p) => p.name === 'solo')!.keys[0]
    t.equal(key.state, 'cooling_down')
    t.ok(key.availableInMs <= capS * 1000, `the key is out for ${key.availableInMs} ms, not 3.2 years`)
  })
}
