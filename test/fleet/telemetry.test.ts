// OpenTelemetry traces through real HTTP: the SDK's in-memory exporter for what each span
// says, and the real OTLP/HTTP exporter against a local node:http receiver for the wire.
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { buildServer } from '../../server.ts'
import { loadConfig } from '../../config.ts'
import { TEST_ENV, postJson, sseData } from '../helpers/gateway.ts'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { waitFor } from '../helpers/wait.ts'

const UPSTREAM_KEY = 'sk-upstream-secret-0123456789'
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CLIENT_PARENT = '00f067aa0ba902b7'

async function start(t: Test, env: Record<string, string> = {}, exporter?: InMemorySpanExporter) {
  const first = await startOpenAIMock()
  const second = await startOpenAIMock()
  second.fallback = { content: 'from second' }
  const config = loadConfig({
    ...TEST_ENV,
    CUSTOM_PROVIDERS: 'first,second',
    FIRST_BASE_URL: first.baseUrl, PROVIDER_PRIORITY_FIRST: '1', FIRST_API_KEY: UPSTREAM_KEY,
    SECOND_BASE_URL: second.baseUrl, PROVIDER_PRIORITY_SECOND: '2',
    ...env,
  })
  const app = await buildServer(config, { spanExporter: exporter })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  t.teardown(async () => { await app.close(); await first.close(); await second.close() })
  return { app, url, first, second }
}

const attr = (span: ReadableSpan, name: string) => span.attributes[name]
const serverSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.SERVER)
const clientSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.CLIENT)

t.test('one server span and one client span per attempt, with GenAI attributes and the fallback reason', async (t) => {
  const exporter = new InMemorySpanExporter()
  const { url, first, second } = await start(t, {}, exporter)
  first.script({ fault: 'status', status: 500 })
  const res = await postJson(`${url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'secret prompt text' }] }, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01` })
  t.equal(res.status, 200)
  await waitFor(() => serverSpans(exporter.getFinishedSpans()).length === 1, 'the server span')
  const spans = exporter.getFinishedSpans()
  const [server] = serverSpans(spans)
  const attempts = clientSpans(spans)
  t.equal(server.name, 'POST /v1/chat/completions')
  t.equal(server.spanContext().traceId, CLIENT_TRACE, 'the client\'s traceparent is the parent')
  t.equal(server.parentSpanContext?.spanId, CLIENT_PARENT)
  t.match(server.attributes, {
    'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.provider.name': 'second',
    'http.response.status_code': 200, 'tiergate.tier': 2, 'tiergate.attempts': 2, 'tiergate.fallback_reason': 'server',
    'gen_ai.usage.input_tokens': 13, 'gen_ai.usage.output_tokens': 5,
  })
  t.equal(attempts.length, 2, 'one client span per upstream attempt')
  const [failed, ok] = attempts.sort((a, b) => (a.startTime[0] - b.startTime[0]) || (a.startTime[1] - b.startTime[1]))
  t.match(failed.attributes, { 'gen_ai.provider.name': 'first', 'tiergate.tier': 1, 'error.type': 'server', 'tiergate.fallback_reason': 'server' })
  t.match(ok.attributes, { 'gen_ai.provider.name': 'second', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini', 'tiergate.attempt.outcome': 'success' })
  for (const span of attempts) t.equal(span.parentSpanContext?.spanId, server.spanContext().spanId, 'attempts are children of the request')

  // W3C traceparent forwarded upstream: each upstream saw its own attempt span as parent.
  const sentFirst = first.chatRequests()[0].headers.traceparent as string
  const sentSecond = second.chatRequests()[0].headers.traceparent as string
  t.equal(sentFirst, `00-${CLIENT_TRACE}-${failed.spanContext().spanId}-01`)
  t.equal(sentSecond, `00-${CLIENT_TRACE}-${ok.spanContext().spanId}-01`)

  const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })))
  t.notMatch(everything, /secret prompt text/, 'no prompt text without OTEL_CAPTURE_CONTENT')
  t.notMatch(everything, /Hello from|from second/, 'no completion text')
  t.notMatch(everything, new RegExp(UPSTREAM_KEY.slice(3, 15)), 'never a key')
})

t.test('a stream\'s attempt span ends with the stream and carries its usage; a new trace without a traceparent', async (t) => {
  const exporter = new InMemorySpanExporter()
  const { url } = await start(t, {}, exporter)
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal((await sseData(res)).at(-1), '[DONE]')
  await waitFor(() => serverSpans(exporter.getFinishedSpans()).length === 1, 'the server span')
  const spans = exporter.getFinishedSpans()
  const [server] = serverSpans(spans)
  const [attempt] = clientSpans(spans)
  t.equal(server.parentSpanContext, undefined, 'a root span')
  t.match(attempt.attributes, { 'tiergate.stream': true, 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 4, 'tiergate.stream.outcome': 'complete' })
  t.match(server.attributes, { 'tiergate.stream': true, 'gen_ai.usage.output_tokens': 4 })
})

t.test('OTEL_CAPTURE_CONTENT=1 puts prompt and completion text in the server span (redacted)', async (t) => {
  const exporter = new InMemorySpanExporter()
  const { url } = await start(t, { OTEL_CAPTURE_CONTENT: '1' }, exporter)
  await postJson(`${url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `say hi; my key is ${UPSTREAM_KEY}` }] })
  await waitFor(() => serverSpans(exporter.getFinishedSpans()).length === 1, 'the server span')
  const [server] = serverSpans(exporter.getFinishedSpans())
  t.match(String(attr(server, 'gen_ai.input.messages')), /say hi/)
  t.notMatch(String(attr(server, 'gen_ai.input.messages')), new RegExp(UPSTREAM_KEY), 'a configured key is redacted even from captured text')
  t.match(String(attr(server, 'gen_ai.output.messages')), /Hello from mock/)
})

t.test('the response cache shows on the span', async (t) => {
  const exporter = new InMemorySpanExporter()
  const { url } = await start(t, { CACHE_TTL_MS: '60000' }, exporter)
  const body = { model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'cache me' }] }
  await postJson(`${url}/v1/chat/completions`, body)
  await postJson(`${url}/v1/chat/completions`, body)
  await waitFor(() => serverSpans(exporter.getFinishedSpans()).length === 2, 'two server spans')
  t.same(serverSpans(exporter.getFinishedSpans()).map((s) => attr(s, 'tiergate.cache')), ['miss', 'hit'])
  t.equal(clientSpans(exporter.getFinishedSpans()).length, 1, 'a hit makes no attempt')
})

t.test('off without an endpoint: no traceparent upstream', async (t) => {
  const { url, first } = await start(t)
  await postJson(`${url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01` })
  t.equal(first.chatRequests()[0].headers.traceparent, undefined)
})

t.test('OTLP/HTTP exporter: spans reach a collector at OTEL_EXPORTER_OTLP_ENDPOINT with its headers', async (t) => {
  const received: Array<{ url: string; headers: http.IncomingHttpHeaders; body: Buffer }> = []
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => collector.close(() => resolve())))
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
  const { app, url } = await start(t, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=abc%20123', OTEL_SERVICE_NAME: 'tiergate-test' })
  t.equal((await postJson(`${url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })).status, 200)
  await app.close() // flushes the batch
  await waitFor(() => received.length > 0, 'an OTLP export')
  const [exported] = received
  t.equal(exported.url, '/v1/traces')
  t.equal(exported.headers['x-collector-token'], 'abc 123')
  t.match(String(exported.headers['content-type']), /json/)
  const body = JSON.parse(exported.body.toString('utf8'))
  const resource = body.resourceSpans[0].resource.attributes
  t.ok(resource.some((a: any) => a.key === 'service.name' && a.value.stringValue === 'tiergate-test'))
  const names = body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((sp: any) => sp.name)))
  t.ok(names.includes('POST /v1/chat/completions'), 'the server span')
  t.ok(names.includes('chat gpt-4o-mini'), 'the attempt span')
})

t.test('a span carries at most MAX_MODEL_ATTRIBUTE_CHARS of the client\'s model string', async (t) => {
  const { MAX_MODEL_ATTRIBUTE_CHARS, requestAttributes } = await import('../../plugins/telemetry/attributes.ts')
  const attributes = requestAttributes({ model: 'm'.repeat(100_000) }, false, (s) => s)
  t.equal((attributes['gen_ai.request.model'] as string).length, MAX_MODEL_ATTRIBUTE_CHARS)
  t.equal(requestAttributes({ model: 'gpt-4o-mini' }, false, (s) => s)['gen_ai.request.model'], 'gpt-4o-mini')
})
