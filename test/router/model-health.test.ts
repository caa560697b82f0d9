// Health per model, not only per provider (issue 10 item 4): one OpenAI-compatible provider
// serving two models, through the OpenAI SDK. A model's 404, 429 or 5xx must not take the
// provider's other model out of service; a half-open trial is made on the model that failed.
import t, { type Test } from 'tap'
import { APIError } from 'openai'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

async function oneProvider(t: Test, env: Record<string, string> = {}): Promise<{ gw: Gateway; wall: OpenAIMock }> {
  const wall = await startOpenAIMock({ models: ['alpha', 'beta'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'wall', WALL_BASE_URL: wall.baseUrl, WALL_MODELS: 'alpha,beta', WALL_API_KEY: 'sk-wall-only-key-0001',
    RATE_LIMIT_MAX: '0', ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await wall.close()
  })
  return { gw, wall }
}

const ask = (gw: Gateway, model: string) => gw.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
/** The request fails with this HTTP status (the SDK's APIError). */
async function failsWith(t: Test, request: Promise<unknown>, status: number, message = `HTTP ${status}`): Promise<void> {
  const err = await request.then(() => undefined, (e: APIError) => e)
  t.equal(err?.status, status, message)
}
const status = async (gw: Gateway) => ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers.find((p: any) => p.name === 'wall')
const modelBreaker = async (gw: Gateway, model: string) => (await status(gw)).breaker.models.find((m: any) => m.model === model)?.state

t.test('a 404 on one model opens only that model\'s breaker: the other model is still served', async (t) => {
  const { gw, wall } = await oneProvider(t, { BREAKER_VOLUME_THRESHOLD: '2' })
  wall.fallbackFor.alpha = { fault: 'status', status: 404, body: { error: { message: 'The model `alpha` does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } }
  for (let i = 0; i < 3; i++) await failsWith(t, ask(gw, 'alpha'), 503)
  t.equal(await modelBreaker(gw, 'alpha'), 'open')
  const alphaCalls = wall.chatRequests().length
  await failsWith(t, ask(gw, 'alpha'), 503, 'alpha stays out while its breaker is open')
  t.equal(wall.chatRequests().length, alphaCalls, 'and is not called')

  const { data, response } = await ask(gw, 'beta')
  t.equal(data.choices[0].message.content, 'Hello from mock', 'beta is served by the same provider')
  t.equal(response.headers.get('x-tiergate-provider'), 'wall')
  const s = await status(gw)
  t.equal(s.breaker.state, 'closed', 'the provider as a whole is not open')
  t.equal(s.breaker.provider, 'closed')
  t.same(s.breaker.models.map((m: any) => [m.model, m.state]).sort(), [['alpha', 'open'], ['beta', 'closed']])
})

t.test('a 429 on one model cools the key for that model only', async (t) => {
  const { gw, wall } = await oneProvider(t, { MAX_COOLDOWN_WAIT_MS: '0' })
  wall.scriptFor('alpha', { fault: 'status', status: 429 })
  const err = await ask(gw, 'alpha').catch((e: APIError) => e)
  t.equal((err as APIError).status, 429)
  t.equal((err as APIError).headers?.get('retry-after'), '10', 'the ladder starts at 10 s for this key and model')
  const { data } = await ask(gw, 'beta')
  t.equal(data.choices[0].message.content, 'Hello from mock', 'the same key still serves beta')
  t.equal(wall.chatRequests().at(-1)!.headers.authorization, 'Bearer sk-wall-only-key-0001')

  const before = wall.chatRequests().length
  await failsWith(t, ask(gw, 'alpha'), 429, 'alpha is still cooling')
  t.equal(wall.chatRequests().length, before, 'and is not called while it cools')
  const [key] = (await status(gw)).keys
  t.equal(key.state, 'cooling_down')
  t.same(key.models.map((m: any) => m.model), ['alpha'])
  t.notMatch(JSON.stringify(await status(gw)), /sk-wall-only-key/, 'no key material in the status')
})

t.test('the half-open trial is made on the model that failed, not on another one', async (t) => {
  const { gw, wall } = await oneProvider(t, { BREAKER_VOLUME_THRESHOLD: '1', BREAKER_RESET_TIMEOUT_MS: '300' })
  wall.scriptFor('alpha', { fault: 'status', status: 503 })
  await failsWith(t, ask(gw, 'alpha'), 503)
  t.equal(await modelBreaker(gw, 'alpha'), 'open')
  await waitFor(async () => (await modelBreaker(gw, 'alpha')) === 'half_open', 'alpha to be half-open', 3000)

  // Beta's success says nothing about alpha: alpha stays half-open.
  await ask(gw, 'beta')
  await ask(gw, 'beta')
  t.equal(await modelBreaker(gw, 'alpha'), 'half_open', 'a success on beta is not alpha\'s trial')
  // Alpha's own trial: it is healthy again, so its breaker closes.
  const { data } = await ask(gw, 'alpha')
  t.equal(data.choices[0].message.content, 'Hello from mock')
  t.equal(await modelBreaker(gw, 'alpha'), 'closed')
  t.same(wall.chatRequests().map((r) => r.body.model), ['alpha', 'beta', 'beta', 'alpha'], 'the trial went to alpha itself')
})

t.test('a provider that cannot be reached is out for every model at once', async (t) => {
  const { refusedUrl } = await import('../mocks/server.ts')
  const backup = await startOpenAIMock({ models: ['alpha', 'beta'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'down,backup', DOWN_BASE_URL: `${await refusedUrl()}/v1`, DOWN_MODELS: 'alpha,beta', PROVIDER_PRIORITY_DOWN: '1',
    BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'alpha,beta', PROVIDER_PRIORITY_BACKUP: '2', BREAKER_VOLUME_THRESHOLD: '2',
  })
  t.teardown(async () => { await gw.close(); await backup.close() })
  for (let i = 0; i < 2; i++) t.equal((await ask(gw, 'alpha')).response.headers.get('x-tiergate-provider'), 'backup')
  const down = ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers.find((p: any) => p.name === 'down')
  t.equal(down.breaker.provider, 'open', 'connection refused opens the whole-provider breaker')
  t.equal(down.breaker.state, 'open')
  const beta = await ask(gw, 'beta')
  t.equal(beta.response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(beta.response.headers.get('x-tiergate-attempts'), '1', 'beta never tried the unreachable provider')
})

t.test('a stream that dies after its first chunk counts against the breaker that let it through', async (t) => {
  const { gw, wall } = await oneProvider(t, { BREAKER_VOLUME_THRESHOLD: '2', STREAM_RESUME: '0' })
  wall.fallbackFor.alpha = { content: 'abcdefgh', pieces: 4, cutAfter: 3 }
  for (let i = 0; i < 2; i++) {
    const stream = await gw.client.chat.completions.create({ model: 'alpha', stream: true, messages: [{ role: 'user', content: 'hi' }] })
    await t.rejects(async () => { for await (const _ of stream) { /* drain */ } }, /failed after it had started/)
  }
  await waitFor(async () => (await modelBreaker(gw, 'alpha')) === 'open', 'alpha\'s breaker to open on mid-stream failures', 3000)
  t.equal(await modelBreaker(gw, 'beta'), undefined, 'beta was never asked: no breaker, nothing against it')
})
