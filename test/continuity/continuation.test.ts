// Continuation requests: prefill and instruction, what is kept and what is dropped.
import t from 'tap'
import { CONTINUE_INSTRUCTION, continuationRequest } from '../../plugins/router/resume/continuation.ts'
import { NATIVE, type ChatRequest } from '../../providers/contract.ts'

const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }]

function original(extra: Partial<ChatRequest> = {}): ChatRequest {
  return {
    [NATIVE]: { dialect: 'anthropic-messages', body: { model: 'x' }, headers: {} },
    model: 'primary',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about Paris.' }],
    stream: true,
    temperature: 0.3,
    top_p: 0.9,
    max_tokens: 200,
    tools,
    tool_choice: 'auto',
    models: ['a', 'b'],
    fallbacks: ['c'],
    session_id: 's1',
    ...extra,
  }
}

const cases: Array<{ name: string; request: ChatRequest; delivered: string; strategy: 'prefill' | 'instruction'; tail: unknown[] }> = [
  {
    name: 'prefill: the delivered text is the final assistant message, trailing space trimmed',
    request: original(), delivered: 'Paris is the capital ', strategy: 'prefill',
    tail: [{ role: 'user', content: 'Tell me about Paris.' }, { role: 'assistant', content: 'Paris is the capital' }],
  },
  {
    name: 'instruction: the delivered text as an assistant message, then a user message asking to continue',
    request: original(), delivered: 'Paris is the capital ', strategy: 'instruction',
    tail: [{ role: 'user', content: 'Tell me about Paris.' }, { role: 'assistant', content: 'Paris is the capital ' }, { role: 'user', content: CONTINUE_INSTRUCTION }],
  },
  {
    name: 'nothing delivered (a held tool call, reasoning only): the original messages',
    request: original(), delivered: '', strategy: 'prefill',
    tail: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about Paris.' }],
  },
  {
    name: 'only whitespace delivered: the original messages',
    request: original(), delivered: '\n\n ', strategy: 'prefill',
    tail: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about Paris.' }],
  },
  {
    name: "a client's own prefill is continued in place",
    request: original({ messages: [{ role: 'user', content: 'Count.' }, { role: 'assistant', content: 'One, ' }] }), delivered: 'two, three', strategy: 'prefill',
    tail: [{ role: 'user', content: 'Count.' }, { role: 'assistant', content: 'One, two, three' }],
  },
  {
    name: "a client's own prefill with the instruction strategy",
    request: original({ messages: [{ role: 'user', content: 'Count.' }, { role: 'assistant', content: 'One, ' }] }), delivered: 'two, ', strategy: 'instruction',
    tail: [{ role: 'user', content: 'Count.' }, { role: 'assistant', content: 'One, two, ' }, { role: 'user', content: CONTINUE_INSTRUCTION }],
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const before = JSON.stringify(c.request)
    const req = continuationRequest(c.request, c.delivered, c.strategy)
    t.same(req.messages.slice(-c.tail.length), c.tail)
    t.equal(req.stream, true)
    t.same(req.stream_options, { include_usage: true })
    t.equal(req[NATIVE], undefined, 'the native body is dropped')
    t.notOk('models' in req || 'fallbacks' in req || 'session_id' in req, 'models, fallbacks, session_id dropped')
    t.equal(req.model, 'primary', 'the router sets the candidate model')
    t.same(req.tools, tools)
    t.equal(req.tool_choice, 'auto')
    t.equal(req.temperature, 0.3)
    t.equal(req.top_p, 0.9)
    t.equal(req.max_tokens, 200)
    t.equal(JSON.stringify(c.request), before, 'the original request is not changed')
    t.ok(c.request[NATIVE], 'the original keeps its native body')
  })
}
