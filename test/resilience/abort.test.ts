// Abort everywhere: a client that disconnects aborts the upstream request and frees its
// socket, for every provider adapter and in every phase — before the upstream's headers,
// after the headers but before the first chunk, mid-stream, during a same-provider retry
// back-off and during a cool-down wait. Each cell uses node:http so the test decides exactly
// when the client's socket dies.
import t, { type Test } from 'tap'
import http from 'node:http'
import type { Fault } from '../mocks/faults.ts'
import type { MockServer, RecordedRequest } from '../mocks/server.ts'
import { startOpenAIMock, streamFrames as openAIFrames } from '../mocks/openai.ts'
import { startAnthropicMock, streamFrames as anthropicFrames } from '../mocks/anthropic.ts'
import { startOllamaMock, ollamaLines } from '../mocks/ollama.ts'
import { startGpt4AllMock } from '../mocks/gpt4all.ts'
import { startG4FMock } from '../mocks/g4f.ts'
import { startPollinationsMock } from '../mocks/pollinations.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { until } from './setup.ts'

interface Upstream extends MockServer {
  script(...steps: Fault[]): void
  chatRequests(): RecordedRequest[]
}

interface Adapter {
  name: string
  model: string
  /** Can the upstream stream? (GPT4All cannot: the gateway replays its JSON answer as chunks.) */
  streams: boolean
  start(env: Record<string, string>): Promise<{ upstream: Upstream; gw: Gateway }>
  /** The upstream's stream Content-Type, and its first chunks in its own protocol. */
  streamType: string
  firstChunks(model: string): string[]
}

/** The upstream's stream with only `chunks` sent, then silence: a stream still running. */
const stalled = (adapter: Adapter, chunks: string[]): Fault => ({ fault: 'partial', contentType: adapter.streamType, chunks })

// Only the provider under test; no discovery traffic of other providers.
const OFF_ALL = 'ollama,gpt4all,pollinations'

const ADAPTERS: Adapter[] = [
  {
    name: 'openai-compatible',
    model: 'gpt-4o-mini',
    streams: true,
    async start(env) {
      const upstream = await startOpenAIMock({ models: [this.model] })
      const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: upstream.baseUrl, P_MODELS: this.model, ...env })
      return { upstream, gw }
    },
    streamType: 'text/event-stream',
    firstChunks: (model) => openAIFrames(model, { content: 'abcdef', pieces: 3 }, false).slice(0, 2),
  },
  {
    name: 'anthropic',
    model: 'claude-sonnet-4-5',
    streams: true,
    async start(env) {
      const upstream = await startAnthropicMock()
      const gw = await startGateway({ ANTHROPIC_API_KEY: upstream.apiKey, ANTHROPIC_BASE_URL: upstream.baseUrl, ANTHROPIC_MODELS: this.model, ...env })
      return { upstream: Object.assign(upstream, { chatRequests: () => upstream.messageRequests() }), gw }
    },
    streamType: 'text/event-stream; charset=utf-8',
    firstChunks: (model) => anthropicFrames(model, { text: 'abcdef', pieces: 3 }).slice(0, 4),
  },
  {
    name: 'ollama',
    model: 'llama3.2:latest',
    streams: true,
    async start(env) {
      const upstream = await startOllamaMock()
      const gw = await startGateway({
        PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_HOST: upstream.origin.replace('http://', ''), OLLAMA_REMOTE_BASE_URL: '', ...env,
      })
      return { upstream, gw }
    },
    streamType: 'application/x-ndjson',
    firstChunks: (model) => ollamaLines(model, { content: 'abcdef', pieces: 3 }).slice(0, 2),
  },
  {
    name: 'gpt4all',
    model: 'Llama 3.2 3B Instruct',
    streams: false,
    async start(env) {
      const upstream = await startGpt4AllMock()
      const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,pollinations', GPT4ALL_BASE_URL: upstream.baseUrl, ...env })
      return { upstream, gw }
    },
    streamType: 'application/json',
    firstChunks: () => [],
  },
  {
    name: 'g4f',
    model: 'gpt-4o-mini',
    streams: true,
    async start(env) {
      const upstream = await startG4FMock({ models: { main: [this.model] } })
      const gw = await startGateway({ G4F_MAIN_API_BASE: upstream.base('main'), PROVIDERS_DISABLED: OFF_ALL, ...env })
      return { upstream, gw }
    },
    streamType: 'text/event-stream',
    firstChunks: (model) => openAIFrames(model, { content: 'abcdef', pieces: 3 }, false).slice(0, 2),
  },
  {
    name: 'pollinations',
    model: 'openai',
    streams: true,
    async start(env) {
      const upstream = await startPollinationsMock()
      const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,gpt4all', POLLINATIONS_BASE_URL: upstream.legacyBaseUrl, ...env })
      return { upstream, gw }
    },
    streamType: 'text/event-stream',
    firstChunks: (model) => openAIFrames(model, { content: 'abcdef', pieces: 3 }, false).slice(0, 2),
  },
]

/** A chat request whose socket the test destroys; resolves `response` if headers arrive. */
function openRequest(gw: Gateway, body: object) {
  const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  req.on('error', () => undefined)
  let firstData = false
  const response = new Promise<http.IncomingMessage>((resolve) => req.on('response', (res) => {
    res.once('data', () => { firstData = true })
    resolve(res)
  }))
  req.end(JSON.stringify(body))
  return { req, response, gotData: () => firstData }
}

async function cell(t: Test, adapter: Adapter, env: Record<string, string>) {
  const { upstream, gw } = await adapter.start(env)
  const routed: string[] = []
  gw.app.events.on('routed', (e) => routed.push(e.outcome))
  t.teardown(async () => {
    await gw.close()
    await upstream.waitForNoSockets() // closing the gateway closes its upstream pools
    await upstream.close()
  })
  return { upstream, gw, routed }
}

/**
 * After the client left: nothing runs upstream and no socket is left but idle keep-alive
 * connections that served a whole response (discovery's) — none busy, none opened for nothing.
 */
async function assertFreed(t: Test, upstream: Upstream, routed: string[]) {
  await upstream.waitForNoInFlight()
  await upstream.waitForOnlyKeepAlive()
  await until(() => routed.length > 0, 3000, 'the router to finish')
  t.same(routed, ['client_error'], 'the router counted a client that left, not a provider failure')
}

for (const adapter of ADAPTERS) {
  t.test(adapter.name, async (t) => {
    for (const stream of [false, true]) {
      t.test(`${stream ? 'stream' : 'non-stream'}: disconnect before the upstream's headers`, async (t) => {
        const { upstream, gw, routed } = await cell(t, adapter, {})
        upstream.script({ fault: 'hang' })
        const { req } = openRequest(gw, { model: adapter.model, stream, messages: [{ role: 'user', content: 'hi' }] })
        await until(() => upstream.chatRequests().length === 1, 3000, 'the upstream to receive the request')
        req.destroy()
        await until(() => upstream.chatRequests()[0].aborted, 3000, 'the upstream request to be aborted')
        await assertFreed(t, upstream, routed)
      })
    }

    if (adapter.streams) {
      t.test('stream: disconnect after the upstream headers, before the first chunk', async (t) => {
        const { upstream, gw, routed } = await cell(t, adapter, {})
        upstream.script(stalled(adapter, []))
        const { req } = openRequest(gw, { model: adapter.model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
        await until(() => upstream.chatRequests().length === 1, 3000, 'the upstream to receive the request')
        req.destroy()
        await until(() => upstream.chatRequests()[0].aborted, 3000, 'the upstream request to be aborted')
        await assertFreed(t, upstream, routed)
      })

      t.test('stream: disconnect mid-stream', async (t) => {
        const { upstream, gw } = await cell(t, adapter, {})
        const ended: string[] = []
        gw.app.events.on('stream_end', (e) => ended.push(e.outcome))
        upstream.script(stalled(adapter, adapter.firstChunks(adapter.model)))
        const { req, response, gotData } = openRequest(gw, { model: adapter.model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
        const res = await response
        t.equal(res.statusCode, 200, 'the stream was committed')
        await until(gotData, 3000, 'the first chunk to reach the client')
        req.destroy()
        await until(() => upstream.chatRequests()[0].aborted, 3000, 'the upstream stream to be aborted')
        await upstream.waitForOnlyKeepAlive()
        await until(() => ended.length === 1, 3000, 'the stream to end')
        t.same(ended, ['aborted'])
      })
    }

    t.test('disconnect during a same-provider retry back-off', async (t) => {
      const { upstream, gw, routed } = await cell(t, adapter, { RETRY_SAME_PROVIDER: '2', RETRY_BASE_DELAY_MS: '60000' })
      upstream.script({ fault: 'status', status: 500 }, { fault: 'status', status: 500 }, { fault: 'status', status: 500 })
      const { req } = openRequest(gw, { model: adapter.model, stream: true, messages: [{ role: 'user', content: 'hi' }] })
      await until(() => upstream.chatRequests().length === 1, 3000, 'the first attempt')
      await upstream.waitForNoInFlight()
      req.destroy()
      await until(() => routed.length > 0, 3000, 'the router to stop waiting')
      t.same(routed, ['client_error'], 'it stopped at once (the back-off is at least 30 s)')
      t.equal(upstream.chatRequests().length, 1, 'no retry for a client that left')
      await upstream.waitForOnlyKeepAlive()
    })

    t.test('disconnect during a cool-down wait', async (t) => {
      const { upstream, gw, routed } = await cell(t, adapter, { MAX_COOLDOWN_WAIT_MS: '60000' })
      upstream.script({ fault: 'status', status: 429, headers: { 'retry-after': '30' } })
      const { req } = openRequest(gw, { model: adapter.model, stream: false, messages: [{ role: 'user', content: 'hi' }] })
      await until(() => upstream.chatRequests().length === 1, 3000, 'the rate-limited attempt')
      await upstream.waitForNoInFlight()
      req.destroy()
      await until(() => routed.length > 0, 3000, 'the router to stop waiting')
      t.same(routed, ['client_error'], 'it stopped waiting out the 30 s cool-down')
      t.equal(upstream.chatRequests().length, 1)
      await upstream.waitForOnlyKeepAlive()
    })
  })
}
