// The response cache's pure decisions: what is "the same request", what may be cached.
import t from 'tap'
import { cacheDecision, cacheKey, canonicalJson, clientBypass } from '../../plugins/cache/key.ts'
import { CompletionBuilder, isComplete } from '../../plugins/cache/answer.ts'
import { MemoryCacheStore, RedisCacheStore } from '../../plugins/cache/store.ts'
import { NATIVE, type ChatRequest } from '../../providers/contract.ts'

const base: ChatRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }
const aliases = new Map([['fast', ['gpt-4o-mini']], ['smart', ['gpt-4o']]])
const key = (req: ChatRequest, partition: string | undefined = 'k1') => cacheKey(req, aliases, partition)

t.test('same answer-shaping fields → same key; delivery fields do not matter', async (t) => {
  const same: Array<[string, ChatRequest]> = [
    ['stream', { ...base, stream: true }],
    ['stream_options', { ...base, stream: true, stream_options: { include_usage: true } }],
    ['user', { ...base, user: 'end-user-42' }],
    ['session_id', { ...base, session_id: 's1' }],
    ['key order', { temperature: 0, messages: [{ content: 'hi', role: 'user' }], model: 'gpt-4o-mini' }],
  ]
  for (const [what, req] of same) t.equal(key(req), key(base), what)
})

t.test('anything that can change the answer changes the key', async (t) => {
  const different: Array<[string, ChatRequest]> = [
    ['model', { ...base, model: 'gpt-4o' }],
    ['messages', { ...base, messages: [{ role: 'user', content: 'hello' }] }],
    ['system prompt', { ...base, messages: [{ role: 'system', content: 'be brief' }, ...base.messages] }],
    ['tools', { ...base, tools: [{ type: 'function', function: { name: 'f' } }] }],
    ['tool_choice', { ...base, tool_choice: 'required' }],
    ['temperature', { ...base, temperature: 0.5 }],
    ['top_p', { ...base, top_p: 0.1 }],
    ['max_tokens', { ...base, max_tokens: 5 }],
    ['seed', { ...base, seed: 7 }],
    ['stop', { ...base, stop: ['\n'] }],
    ['response_format', { ...base, response_format: { type: 'json_object' } }],
    ['an unknown field', { ...base, reasoning_effort: 'high' }],
    ['the native body', { ...base, [NATIVE]: { dialect: 'anthropic-messages', body: { thinking: { type: 'enabled' } }, headers: {} } }],
  ]
  const keys = new Set([key(base)])
  for (const [what, req] of different) {
    t.not(key(req), key(base), what)
    keys.add(key(req))
  }
  t.equal(keys.size, different.length + 1, 'all distinct')
})

t.test('the model is compared after alias resolution; the partition keeps tenants apart', async (t) => {
  t.equal(key({ ...base, model: 'fast' }), key(base), 'an alias and its target share answers')
  t.not(key({ ...base, model: 'smart' }), key(base))
  t.not(key(base, 'k2'), key(base, 'k1'), 'another gateway key never shares an entry')
  t.match(cacheKey(base, aliases, undefined), /^anonymous:[0-9a-f]{32}$/)
})

t.test('cacheDecision', async (t) => {
  const on = { ttlMs: 60_000, nondeterministic: false }
  const cases: Array<[string, ChatRequest, boolean, typeof on, string | true]> = [
    ['off', base, false, { ttlMs: 0, nondeterministic: false }, 'off'],
    ['temperature 0', base, false, on, true],
    ['client bypass', base, true, on, 'client_bypass'],
    ['temperature > 0', { ...base, temperature: 0.7 }, false, on, 'nondeterministic'],
    ['temperature absent (provider default > 0)', { model: 'm', messages: [] }, false, on, 'nondeterministic'],
    ['temperature > 0 with CACHE_NONDETERMINISTIC', { ...base, temperature: 0.7 }, false, { ...on, nondeterministic: true }, true],
  ]
  for (const [what, req, bypass, policy, expected] of cases) {
    const d = cacheDecision(req, bypass, policy)
    t.equal(d.cacheable ? true : d.reason, expected, what)
  }
})

t.test('clientBypass reads cache-control and x-tiergate-cache', async (t) => {
  const cases: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ 'cache-control': 'no-cache' }, true],
    [{ 'cache-control': 'max-age=0, no-store' }, true],
    [{ 'cache-control': 'max-age=60' }, false],
    [{ 'x-tiergate-cache': 'bypass' }, true],
    [{ 'x-tiergate-cache': 'BYPASS' }, true],
    [{ 'x-tiergate-cache': 'hit' }, false],
  ]
  for (const [headers, expected] of cases) t.equal(clientBypass(headers), expected, JSON.stringify(headers))
})

t.test('canonicalJson sorts keys at every depth and drops undefined', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { f: 1, e: 2 }], c: undefined } }), '{"a":{"d":[1,{"e":2,"f":1}]},"b":1}')
})

t.test('a stream is complete only when every choice finished', async (t) => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, index = 0) =>
    ({ id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'm', choices: [{ index, delta, finish_reason: finish as never }] })
  const b = new CompletionBuilder()
  b.add(chunk({ role: 'assistant', content: '' }))
  b.add(chunk({ content: 'Hel' }))
  b.add(chunk({ tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }))
  b.add(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }))
  t.notOk(isComplete(b.build()), 'no finish_reason yet: a cut stream')
  b.add(chunk({ content: 'lo' }, 'tool_calls'))
  b.add({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })
  const c = b.build()
  t.ok(isComplete(c))
  t.equal(c.choices[0].message.content, 'Hello')
  t.same(c.choices[0].message.tool_calls, [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }])
  t.same(c.usage, { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })
})

t.test('the memory store: TTL, LRU by entries and by bytes, evictions counted', async (t) => {
  let now = 1_000
  const store = new MemoryCacheStore({ maxEntries: 2, maxBytes: 10_000 }, () => now)
  const answer = (content: string) => ({ provider: 'p', tier: 1, completion: { id: 'x', object: 'chat.completion' as const, created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant' as const, content }, finish_reason: 'stop' as const }] } })
  await store.set('a', answer('A'), 100)
  await store.set('b', answer('B'), 100)
  t.ok(await store.get('a'), 'a read: now most recently used')
  await store.set('c', answer('C'), 100)
  t.notOk(await store.get('b'), 'b, least recently used, was evicted')
  t.ok(await store.get('a'))
  t.equal(store.stats().evictions, 1)
  now += 100
  t.notOk(await store.get('a'), 'expired after its TTL')
  const tiny = new MemoryCacheStore({ maxEntries: 100, maxBytes: 400 })
  await tiny.set('x', answer('x'.repeat(100)), 1000)
  await tiny.set('y', answer('y'.repeat(100)), 1000)
  t.notOk(await tiny.get('x'), 'over CACHE_MAX_BYTES: the oldest goes')
  t.ok(tiny.stats().bytes <= 400)
  t.equal(await tiny.set('z', answer('z'.repeat(1000)), 1000), 0, 'an entry larger than the whole cache is not kept')
})

t.test('the redis store does not write an answer larger than CACHE_MAX_BYTES', async (t) => {
  const written: string[] = []
  const redis = { get: async () => null, set: async (key: string) => { written.push(key); return 'OK' } }
  const store = new RedisCacheStore(redis as never, { maxBytes: 400 })
  const answer = (content: string) => ({ provider: 'p', tier: 1, completion: { id: 'x', object: 'chat.completion' as const, created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant' as const, content }, finish_reason: 'stop' as const }] } })
  t.ok((await store.set('small', answer('s'), 1000)) > 0)
  t.equal(await store.set('big', answer('b'.repeat(1000)), 1000), 0)
  t.same(written, ['tiergate:cache:small'], 'only the small answer reached Redis')
  t.equal(store.stats().bytes, Buffer.byteLength(JSON.stringify(answer('s'))))
})
