// A client that disconnects aborts the upstream request at once and frees its socket:
// before the answer's headers, and in the middle of a stream.
import t from 'tap'
import http from 'node:http'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

/** Send a chat request with node:http so the test controls exactly when the socket dies. */
function openRequest(url: string, body: object) {
  const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  req.on('error', () => undefined)
  req.end(JSON.stringify(body))
  return req
}

t.test('disconnect before the upstream answers: upstream request aborted, socket freed', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.script({ fault: 'hang' })
  const req = openRequest(gw.url, { model: 'm', messages: [{ role: 'user', content: 'x' }] })
  await waitFor(() => mock.chatRequests().length === 1, 'the upstream to receive the request')
  req.destroy()
  await waitFor(() => mock.chatRequests()[0].aborted, 'the upstream request to be aborted')
  await mock.waitForNoSockets()
  t.pass('upstream socket closed')
})

t.test('disconnect mid-stream: upstream stream aborted, socket freed', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.script({ content: 'x'.repeat(200), pieces: 200, gapMs: 20 })
  const req = openRequest(gw.url, { model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] })
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve))
  t.equal(res.statusCode, 200)
  await new Promise((resolve) => res.once('data', resolve))
  req.destroy()
  await waitFor(() => mock.chatRequests()[0].aborted, 'the upstream stream to be aborted')
  await mock.waitForNoSockets()
  t.pass('upstream socket closed long before the 4 s stream would have ended')
})

t.test('the SDK abort signal aborts the upstream too', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.script({ content: 'y'.repeat(100), pieces: 100, gapMs: 20 })
  const controller = new AbortController()
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }, { signal: controller.signal })
  let received = 0
  // The SDK ends the iteration quietly (or throws an abort error) once aborted; either is fine.
  try {
    for await (const _ of stream) if (++received === 3) controller.abort()
  } catch (err) {
    t.match(String(err), /abort/i)
  }
  t.ok(received < 100, `iteration stopped early (${received} chunks)`)
  await waitFor(() => mock.chatRequests()[0].aborted, 'the upstream stream to be aborted')
  await mock.waitForNoSockets()
})
