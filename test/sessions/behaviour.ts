// What a client of sessions relies on, run against each store (memory.test.ts, redis.test.ts).
// `first` starts a conversation and `second` continues it: the same gateway for the memory
// store, two gateway instances on one redis-server for the Redis store.
import type { Test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { OpenAIMock } from '../mocks/openai.ts'
import { postJson, sseData, type Gateway } from '../helpers/gateway.ts'

export interface SessionFixture {
  mock: OpenAIMock
  first: Gateway
  second: Gateway
}

export type StartSessions = (t: Test, env?: Record<string, string>) => Promise<SessionFixture>

const MODEL = 'gpt-4o-mini'

export const chat = (gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  postJson(`${gw.url}/v1/chat/completions`, { model: MODEL, ...body }, headers)

export async function streamChat(gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: MODEL, stream: true, ...body }),
  })
  return { status: res.status, data: await sseData(res) }
}

export async function history(gw: Gateway, id: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/sessions/${encodeURIComponent(id)}`, { headers })
  return { status: res.status, json: await res.json() as any }
}

const user = (content: string) => ({ role: 'user', content })
const assistant = (content: string) => ({ role: 'assistant', content })

export function sessionBehaviour(t: Test, start: StartSessions): void {
  t.test('a conversation continues: the upstream receives the whole history, never session_id', async (t) => {
    const { mock, first, second } = await start(t)
    const id = randomUUID()
    mock.script({ content: 'Paris.' }, { content: 'About 2.1 million.' })
    // The official SDK passes the extra body field through, as a user's code would.
    const one = await first.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Capital of France?' }], session_id: id } as never)
    t.equal((one as any).choices[0].message.content, 'Paris.')
    const two = await second.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'How many people live there?' }], session_id: id } as never)
    t.equal((two as any).choices[0].message.content, 'About 2.1 million.')

    const [req1, req2] = mock.chatRequests()
    t.same(req1.body.messages, [user('Capital of France?')])
    t.same(req2.body.messages, [user('Capital of France?'), assistant('Paris.'), user('How many people live there?')])
    t.notOk('session_id' in req1.body, 'session_id is not sent upstream')
    t.notOk('session_id' in req2.body, 'session_id is not sent upstream')

    const stored = await history(second, id)
    t.equal(stored.status, 200)
    t.same(stored.json.messages, [user('Capital of France?'), assistant('Paris.'), user('How many people live there?'), assistant('About 2.1 million.')])
  })

  t.test('streamed turns via the x-session-id header are saved once complete', async (t) => {
    const { mock, first, second } = await start(t)
    const id = randomUUID()
    mock.script({ content: 'Hello there, friend', pieces: 4, reasoning: 'greet back' }, { content: 'You said hi.' })
    const one = await streamChat(first, { messages: [user('hi')] }, { 'x-session-id': id })
    t.equal(one.data.at(-1), '[DONE]')
    const two = await streamChat(second, { messages: [user('what did I say?')] }, { 'x-session-id': id })
    t.equal(two.data.at(-1), '[DONE]')
    // The reasoning is shown to the client but not replayed upstream.
    t.same(mock.chatRequests()[1].body.messages, [user('hi'), assistant('Hello there, friend'), user('what did I say?')])
    t.notOk(mock.chatRequests().some((r) => 'session_id' in r.body))
    t.same((await history(first, id)).json.messages.at(-1), assistant('You said hi.'))
  })

  t.test('tool calls are stored (streamed and not) and the tool results continue the turn', async (t) => {
    const { mock, first, second } = await start(t)
    const weather = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }
    const time = { id: 'call_2', name: 'get_time', arguments: '{"tz":"Europe/Paris"}' }
    mock.script({ toolCalls: [weather] }, { content: 'Sunny, 21 °C.' }, { toolCalls: [time] })
    const id = randomUUID()
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]
    const one = await streamChat(first, { session_id: id, tools, messages: [user('Weather in Paris?')] })
    t.equal(one.data.at(-1), '[DONE]')
    const toolResult = { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21,"sky":"sunny"}' }
    await chat(second, { session_id: id, tools, messages: [toolResult] })
    const calledWith = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }
    t.same(mock.chatRequests()[1].body.messages, [user('Weather in Paris?'), calledWith, toolResult])
    await chat(first, { session_id: id, tools, messages: [user('And the time?')] })
    const stored = (await history(second, id)).json.messages
    t.same(stored.at(-1), { role: 'assistant', content: null, tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } }] })
    t.equal(stored.length, 6)
  })

  t.test('a failed request and a stream cut mid-way leave the history unchanged', async (t) => {
    // STREAM_RESUME=0: with resume on, the cut stream would be continued and saved whole.
    const { mock, first, second } = await start(t, { STREAM_RESUME: '0' })
    const id = randomUUID()
    mock.script({ content: 'First answer.' })
    await chat(first, { session_id: id, messages: [user('one')] })
    const before = (await history(first, id)).json.messages

    mock.script({ fault: 'status', status: 503 })
    const failed = await chat(second, { session_id: id, messages: [user('two')] })
    t.equal(failed.status, 503)
    t.equal(failed.json.error.code, 'all_providers_failed')
    t.same((await history(first, id)).json.messages, before, 'nothing saved from the failed request')

    mock.script({ content: 'abcdefghij', pieces: 5, cutAfter: 3 })
    const cut = await streamChat(second, { session_id: id, messages: [user('three')] })
    t.equal(cut.status, 200)
    t.not(cut.data.at(-1), '[DONE]')
    t.ok(JSON.parse(cut.data.at(-1)!).error, 'the stream ends with an error event')
    t.same((await history(second, id)).json.messages, before, 'nothing saved from the cut stream')

    // The client retries; the history continues from the last good turn.
    mock.script({ content: 'Second answer.' })
    await chat(first, { session_id: id, messages: [user('two')] })
    t.same(mock.chatRequests().at(-1)!.body.messages, [user('one'), assistant('First answer.'), user('two')])
  })

  t.test('a repeated system prompt is neither stored twice nor sent twice', async (t) => {
    const { mock, first, second } = await start(t)
    const id = randomUUID()
    const system = { role: 'system', content: 'Answer in French.' }
    mock.script({ content: 'Bonjour.' }, { content: 'Au revoir.' })
    await chat(first, { session_id: id, messages: [system, user('hello')] })
    await chat(second, { session_id: id, messages: [system, user('bye')] })
    t.same(mock.chatRequests()[1].body.messages, [system, user('hello'), assistant('Bonjour.'), user('bye')])
    t.same((await history(first, id)).json.messages, [system, user('hello'), assistant('Bonjour.'), user('bye'), assistant('Au revoir.')])
  })

  t.test('SESSION_MAX_MESSAGES drops the oldest non-system messages first', async (t) => {
    const { mock, first, second } = await start(t, { SESSION_MAX_MESSAGES: '4' })
    const id = randomUUID()
    const system = { role: 'system', content: 'Be brief.' }
    mock.script({ content: 'a1' }, { content: 'a2' }, { content: 'a3' })
    await chat(first, { session_id: id, messages: [system, user('u1')] })
    await chat(second, { session_id: id, messages: [user('u2')] })
    t.same((await history(first, id)).json.messages, [system, assistant('a1'), user('u2'), assistant('a2')])
    await chat(first, { session_id: id, messages: [user('u3')] })
    t.same(mock.chatRequests()[2].body.messages, [system, assistant('a1'), user('u2'), assistant('a2'), user('u3')])
    t.same((await history(second, id)).json.messages, [system, assistant('a2'), user('u3'), assistant('a3')])
  })

  t.test('trimming never leaves a tool result without its tool call', async (t) => {
    const { mock, first, second } = await start(t, { SESSION_MAX_MESSAGES: '2' })
    const id = randomUUID()
    const call = { id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '{}' } }
    mock.script({ toolCalls: [{ id: 'call_9', name: 'lookup', arguments: '{}' }] }, { content: 'Found it.' }, { content: 'Bye.' })
    await chat(first, { session_id: id, messages: [user('look it up')] })
    await chat(second, { session_id: id, messages: [{ role: 'tool', tool_call_id: 'call_9', content: 'result' }] })
    // [user, assistant(tool_calls), tool, assistant]: the turn (tool result + answer) is never
    // dropped, so the call it answers stays with it; the user message goes.
    t.same((await history(first, id)).json.messages, [{ role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_9', content: 'result' }, assistant('Found it.')])
    // Next turn: the old call and its result go together, never the result alone.
    await chat(first, { session_id: id, messages: [user('thanks')] })
    t.same((await history(second, id)).json.messages, [user('thanks'), assistant('Bye.')])
  })

  t.test('with gateway keys a session belongs to the key that created it', async (t) => {
    const { mock, first, second } = await start(t, { GATEWAY_API_KEYS: 'key-alpha-1111,key-bravo-2222' })
    const alpha = { authorization: 'Bearer key-alpha-1111' }
    const bravo = { authorization: 'Bearer key-bravo-2222' }
    const id = randomUUID()
    t.equal((await chat(first, { session_id: id, messages: [user('secret plan')] }, alpha)).status, 200)
    t.equal((await history(second, id, alpha)).status, 200)

    const peek = await history(second, id, bravo)
    t.equal(peek.status, 404)
    t.equal(peek.json.error.code, 'session_not_found')
    const hijack = await chat(second, { session_id: id, messages: [user('continue it')] }, bravo)
    t.equal(hijack.status, 404)
    t.equal(hijack.json.error.code, 'session_not_found')
    t.equal(mock.chatRequests().length, 1, 'the upstream was not called for the other key')
    const erase = await fetch(`${second.url}/sessions/${id}`, { method: 'DELETE', headers: bravo })
    t.equal(erase.status, 404)
    t.equal((await history(first, id)).status, 401, 'no key, no sessions')

    t.equal((await history(first, id, alpha)).json.messages.length, 2, 'intact after the other key tried')
    const own = await fetch(`${second.url}/sessions/${id}`, { method: 'DELETE', headers: alpha })
    t.equal(own.status, 200)
    t.same(await own.json(), { id, object: 'session.deleted', deleted: true })
    t.equal((await history(first, id, alpha)).status, 404)
  })

  t.test('a session expires SESSION_TTL_MS after its last turn', async (t) => {
    const { first, second } = await start(t, { SESSION_TTL_MS: '400' })
    const id = randomUUID()
    await chat(first, { session_id: id, messages: [user('remember me')] })
    t.equal((await history(second, id)).status, 200)
    const deadline = Date.now() + 5_000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      status = (await history(second, id)).status
    }
    t.equal(status, 404, 'gone after its TTL')
    // The id may be used again: a fresh conversation.
    await chat(second, { session_id: id, messages: [user('again')] })
    t.equal((await history(first, id)).json.messages.length, 2)
  })

  t.test('bad session ids are 400s in the OpenAI envelope', async (t) => {
    const { first } = await start(t)
    const long = await chat(first, { messages: [user('hi')] }, { 'x-session-id': 'x'.repeat(201) })
    t.equal(long.status, 400)
    t.equal(long.json.error.param, 'x-session-id')
    const empty = await chat(first, { session_id: '', messages: [user('hi')] })
    t.equal(empty.status, 400)
    t.match(empty.json.error.param, /session_id/)
  })
}
