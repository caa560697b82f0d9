// Graceful shutdown, on the real entry point: `node server.ts` as a child process. On SIGTERM
// (or SIGINT) new connections are refused at once, in-flight streams finish, the process exits
// 0 — and when the grace period runs out, what is left is cut and it still exits. Last, a child
// that builds the app, drives traffic and calls app.close() must exit on its own: nothing left open.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { until } from './setup.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NODE = `${ROOT}node_modules/.bin/node`

interface Child {
  proc: ChildProcess
  port: number
  logs: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `node <script>` with exactly `env` (no inherited variables) and waits for its port. */
async function spawnNode(t: Test, script: string, env: Record<string, string>, waitForPort = true): Promise<Child> {
  const proc = spawn(NODE, [script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: string[] = []
  let buffered = ''
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    logs.push(...lines.filter(Boolean))
  })
  proc.stderr!.on('data', (chunk: Buffer) => logs.push(`stderr: ${chunk}`))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let port = 0
  if (waitForPort) {
    await until(() => logs.some((l) => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(l)) || proc.exitCode !== null, 15_000, 'the gateway to listen')
    const line = logs.find((l) => /Server listening at/.test(l))
    if (!line) throw new Error(`the gateway did not start:\n${logs.join('\n')}`)
    port = Number(/:(\d+)"?/.exec(JSON.parse(line).msg)![1])
  }
  return { proc, port, logs, exited }
}

function gatewayEnv(mock: OpenAIMock, extra: Record<string, string>): Record<string, string> {
  return {
    HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', MODELS_REFRESH_MS: '0', RATE_LIMIT_MAX: '0',
    PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations',
    CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm',
    ...extra,
  }
}

/** A streaming request on a keep-alive connection, as a real client would hold one. */
function openStream(port: number, agent: http.Agent) {
  let text = ''
  let firstData = false
  let ended = false
  const done = new Promise<string>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.on('data', (chunk) => { text += chunk; firstData = true })
      res.on('end', () => { ended = true; resolve(text) })
      res.on('error', () => { ended = true; resolve(text) })
      res.on('aborted', () => { ended = true; resolve(text) })
    })
    req.on('error', () => { ended = true; resolve(text) })
    req.end(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }))
  })
  return { done, gotData: () => firstData, ended: () => ended }
}

/** Resolves true once a fresh TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

const frames = (text: string) => text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))

t.test('SIGTERM: new connections refused at once, the in-flight stream completes with [DONE], exit 0', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  t.teardown(() => mock.close())
  const graceMs = 15_000
  const child = await spawnNode(t, 'server.ts', gatewayEnv(mock, { SHUTDOWN_GRACE_MS: String(graceMs) }))
  const content = 'abcdefghijklmnopqrstuvwxyz0123'
  mock.script({ content, pieces: content.length, gapMs: 40 }) // about 1.2 s of stream
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const stream = openStream(child.port, agent)
  await until(stream.gotData, 5000, 'the first chunk')

  const signalledAt = Date.now()
  child.proc.kill('SIGTERM')
  await until(() => refused(child.port), 3000, 'new connections to be refused')
  t.notOk(stream.ended(), 'refusing new connections while the stream is still running')

  const text = await stream.done
  const data = frames(text)
  t.equal(data.at(-1), '[DONE]', 'the in-flight stream finished cleanly')
  t.equal(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join(''), content)

  const exit = await child.exited
  t.same(exit, { code: 0, signal: null }, 'exit code 0')
  t.ok(Date.now() - signalledAt < graceMs, 'before the grace period ran out: an idle keep-alive connection does not hold it')
  t.notOk(child.logs.some((l) => /grace period over/.test(l)), 'nothing had to be forced')
  t.ok(child.logs.some((l) => /shutting down/.test(l) && /SIGTERM/.test(l)))
  await mock.waitForNoSockets()
})

t.test('SIGINT with a stream longer than SHUTDOWN_GRACE_MS: the stream is cut (no [DONE]), the upstream freed, exit 0', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  t.teardown(() => mock.close())
  const child = await spawnNode(t, 'server.ts', gatewayEnv(mock, { SHUTDOWN_GRACE_MS: '300' }))
  mock.script({ content: 'y'.repeat(200), pieces: 200, gapMs: 50 }) // 10 s of stream
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const stream = openStream(child.port, agent)
  await until(stream.gotData, 5000, 'the first chunk')
  child.proc.kill('SIGINT')
  const text = await stream.done
  t.notOk(frames(text).includes('[DONE]'), 'a cut stream never looks complete')
  t.same(await child.exited, { code: 0, signal: null })
  t.ok(child.logs.some((l) => /grace period over/.test(l)))
  t.ok(mock.chatRequests()[0].aborted, 'the upstream stream was aborted')
  await mock.waitForNoSockets()
})

t.test('SIGTERM when idle: exits 0 at once', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  t.teardown(() => mock.close())
  const child = await spawnNode(t, 'server.ts', gatewayEnv(mock, { SHUTDOWN_GRACE_MS: '60000' }))
  const res = await fetch(`http://127.0.0.1:${child.port}/health`)
  t.equal(res.status, 200)
  child.proc.kill('SIGTERM')
  t.same(await child.exited, { code: 0, signal: null }, 'no in-flight work: no waiting for the 60 s grace')
})

t.test('app.close() leaves no handle open: the process exits on its own after traffic', async (t) => {
  const tier1 = await startOpenAIMock({ models: ['m'] })
  const tier2 = await startOpenAIMock({ models: ['m'] })
  t.teardown(async () => { await tier1.close(); await tier2.close() })
  tier1.script(
    { content: 'json' },
    { content: 'stream' },
    { fault: 'hang' },
    { fault: 'partial', contentType: 'text/event-stream', chunks: ['data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}\n\n'] },
    { fault: 'status', status: 429, headers: { 'retry-after': '30' } },
    { content: 'second key' },
    { fault: 'status', status: 500 },
  )
  tier2.script({ content: 'fallback' }, { fault: 'status', status: 500 }, { content: 'retried' })
  const env = {
    LOG_LEVEL: 'info', MODELS_REFRESH_MS: '300000', // the discovery interval must be cleared too
    PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations',
    CUSTOM_PROVIDERS: 'one,two',
    ONE_BASE_URL: tier1.baseUrl, ONE_MODELS: 'm', ONE_API_KEY: 'sk-one-key-0001,sk-one-key-0002', PROVIDER_PRIORITY_ONE: '1',
    TWO_BASE_URL: tier2.baseUrl, TWO_MODELS: 'm', PROVIDER_PRIORITY_TWO: '2',
    TIMEOUT_FIRST_BYTE_MS: '300', TIMEOUT_IDLE_MS: '2000', RETRY_SAME_PROVIDER: '1', RETRY_BASE_DELAY_MS: '50',
  }
  const child = await spawnNode(t, 'test/resilience/fixtures/close-app.ts', { TIERGATE_ENV: JSON.stringify(env) }, false)
  const exit = await Promise.race([child.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000).unref())])
  const report = child.logs.map((l) => { try { return JSON.parse(l) } catch { return undefined } }).find((l) => l?.active)
  t.same(exit, { code: 0, signal: null }, `exited by itself; still active after close: ${JSON.stringify(report?.active)}\n${child.logs.join('\n')}`)
  t.same(report.results.map((r: string) => r.split(' ')[0]), ['200', '200', '200', 'left', '200', '200'], 'every path was exercised')
  t.same(report.active.filter((r: string) => r !== 'TTYWrap' && r !== 'PipeWrap'), [], 'no timer, socket or pool left after app.close()')
  t.equal(tier2.chatRequests().length, 3, 'the fallback and the retry reached tier 2')
  t.equal(tier1.chatRequests().length, 7)
})
