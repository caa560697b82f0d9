// `sendSse` handed a response that is destroyed already — the client left in the turn the router
// committed the stream, before the route wrote a byte — must not pull from the upstream at all:
// it ends the answer's iterator at once (which aborts the upstream request), instead of reading
// a first network read for nobody and relying on the response's 'close' to stop it later.
// Reached here the only way it can be: the route's own handler destroys the socket first.
import t from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sendSse } from '../../dialects/sse-body.ts'
import { openAIChatEncoder } from '../../dialects/openai-chat/stream.ts'
import type { ChatChunk } from '../../providers/contract.ts'

t.test('a response destroyed before the stream is handed over: no chunk is pulled, the iterator is ended', async (t) => {
  let pulled = 0
  let returned = false
  let handedOver: () => void = () => undefined
  const handedOverOnce = new Promise<void>((resolve) => { handedOver = resolve })
  const answer: AsyncIterableIterator<ChatChunk> = {
    [Symbol.asyncIterator]() { return this },
    async next() {
      pulled++
      return { done: false, value: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] } as ChatChunk }
    },
    async return() {
      returned = true
      return { done: true, value: undefined }
    },
  }
  const app = Fastify()
  app.post('/stream', (request, reply) => {
    reply.raw.destroy() // the client is gone: its socket closed in this very turn
    sendSse(reply, answer, openAIChatEncoder('p'), (s) => s)
    handedOver()
    return reply
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/stream', headers: { 'content-type': 'application/json' } })
  request.on('error', () => undefined) // the socket is destroyed: a hang-up is the point
  request.end('{}')
  await handedOverOnce
  t.ok(returned, 'the answer\'s iterator was ended at once, in the turn it was handed over')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(pulled, 0, 'no chunk was pulled from the upstream for a client that is gone')
})
