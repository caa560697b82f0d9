// Breakers (one per provider and model; test/router/model-health.test.ts has the per-model
// cases): opens after failures, is skipped while open, lets one trial through when half-open,
// and closes again on success. Client faults do not count. `breaker.state` in /providers is the
// provider as a whole (here: its one model).
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startTwoTiers } from '../helpers/two-tiers.ts'
import { waitFor } from '../helpers/wait.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

async function breakerState(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/providers`)
  const body = await res.json() as { providers: Array<{ name: string; breaker: { state: string } }> }
  return body.providers.find((p) => p.name === name)!.breaker.state
}

async function waitForState(url: string, name: string, state: string, ms = 5000) {
  const deadline = Date.now() + ms
  while ((await breakerState(url, name)) !== state) {
    if (Date.now() > deadline) throw new Error(`breaker of ${name} never became ${state}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('breaker: open → skipped → half-open → closed', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t, { tier1Models: ['m'], tier2Models: ['m'], env: { BREAKER_VOLUME_THRESHOLD: '2', BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50', BREAKER_RESET_TIMEOUT_MS: '400' } })
  const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

  tier1.fallback = { fault: 'status', status: 500 }
  for (let i = 0; i < 2; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, body)
    t.equal(res.headers.get('x-tiergate-provider'), 'second')
  }
  t.equal(await breakerState(gw.url, 'first'), 'open')
  const seenByFlaky = tier1.chatRequests().length

  // While open, first is not called at all; the answer still comes, from tier 2, in one attempt.
  const skipped = await postJson(`${gw.url}/v1/chat/completions`, body)
  t.equal(skipped.headers.get('x-tiergate-provider'), 'second')
  t.equal(skipped.headers.get('x-tiergate-attempts'), '1')
  t.equal(tier1.chatRequests().length, seenByFlaky)

  // After BREAKER_RESET_TIMEOUT_MS it is half-open: one trial goes through; success closes it.
  await waitForState(gw.url, 'first', 'half_open')
  tier1.fallback = { content: 'recovered' }
  const trial = await postJson(`${gw.url}/v1/chat/completions`, body)
  t.equal(trial.headers.get('x-tiergate-provider'), 'first')
  t.equal(trial.json.choices[0].message.content, 'recovered')
  t.equal(await breakerState(gw.url, 'first'), 'closed')
})

t.test('breaker: a failed half-open trial opens it again', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t, { tier1Models: ['m'], tier2Models: ['m'], env: { BREAKER_VOLUME_THRESHOLD: '1', BREAKER_RESET_TIMEOUT_MS: '300' } })
  tier1.fallback = { fault: 'status', status: 503 }
  const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }
  await postJson(`${gw.url}/v1/chat/completions`, body)
  t.equal(await breakerState(gw.url, 'first'), 'open')
  await waitForState(gw.url, 'first', 'half_open')
  const res = await postJson(`${gw.url}/v1/chat/completions`, body)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(res.headers.get('x-tiergate-attempts'), '2')
  t.equal(await breakerState(gw.url, 'first'), 'open')
})

t.test('client faults (400) do not count against the breaker', async (t) => {
  const tier1 = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'strict', STRICT_BASE_URL: tier1.baseUrl,
    BREAKER_VOLUME_THRESHOLD: '1', BREAKER_ERROR_THRESHOLD_PERCENTAGE: '1',
  })
  t.teardown(async () => { await gw.close(); await tier1.close() })
  tier1.fallback = { fault: 'status', status: 400, body: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } } }
  for (let i = 0; i < 4; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    t.equal(res.status, 400)
  }
  t.equal(await breakerState(gw.url, 'strict'), 'closed')
  t.equal(tier1.chatRequests().length, 4)
})

t.test('BREAKER_TIMEOUT_MS: a call past it falls back, and the hung upstream request is aborted', async (t) => {
  // Every layered timeout far away: only the breaker's own timeout can end the hang.
  const { gw, tier1 } = await startTwoTiers(t, { env: { BREAKER_TIMEOUT_MS: '300', TIMEOUT_TOTAL_MS: '600000', TIMEOUT_FIRST_BYTE_MS: '600000' } })
  tier1.script({ fault: 'hang' })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  const providers = await (await fetch(`${gw.url}/providers`)).json() as { providers: Array<{ name: string; health: { lastError: { message: string } } }> }
  t.match(providers.providers.find((p) => p.name === 'first')!.health.lastError.message, /breaker timeout/)
  await waitFor(() => tier1.chatRequests()[0].aborted, 'the hung upstream request to be aborted', 3000)
})
