// TypeBox schemas of POST/GET/DELETE /v1/responses: validation, OpenAPI and examples in one
// place. Objects stay open: fields tiergate does not model reach a native upstream untouched.
import { Type } from '@sinclair/typebox'
import { MAX_TOKENS_LIMIT } from '../../routes/v1/schemas.ts'

const Open = { additionalProperties: true } as const

const InputItem = Type.Object({ type: Type.Optional(Type.String()) }, { ...Open, description: '`message` (role + string or `input_text`/`input_image`/`output_text` parts), `function_call`, `function_call_output`, …' })

export const ResponsesCreateRequest = Type.Object({
  model: Type.String({ minLength: 1, description: 'A model id, an alias from MODEL_ALIASES, or `provider/model` to pin one provider', examples: ['gpt-4o-mini'] }),
  input: Type.Optional(Type.Union([Type.String(), Type.Array(InputItem)])),
  instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  tools: Type.Optional(Type.Array(Type.Object({ type: Type.String() }, { ...Open, description: '`function` tools (flat `name`/`parameters`/`strict`) work on every provider; built-in tools (`web_search`, `file_search`, …) only on OpenAI itself' }))),
  tool_choice: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('auto'), Type.Literal('required'), Type.Object({ type: Type.String() }, Open)])),
  parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  text: Type.Optional(Type.Union([Type.Object({ format: Type.Optional(Type.Object({ type: Type.String() }, Open)) }, Open), Type.Null()])),
  reasoning: Type.Optional(Type.Union([Type.Object({ effort: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, Open), Type.Null()])),
  max_output_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  store: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Keep the response (default true) so that `previous_response_id` can continue it and GET can read it.' })),
  previous_response_id: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()], { description: 'Continue the chain of a stored response of this gateway key, on whichever provider answers now.' })),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
}, {
  ...Open,
  description: 'OpenAI Responses request. On the `openai` provider the body passes through as it is; on every other provider it is translated to Chat Completions (see the README\'s translation table).',
  examples: [{ model: 'gpt-4o-mini', instructions: 'You answer in one sentence.', input: 'What is a circuit breaker?', temperature: 0.2 }],
})

export const ResponseObjectSchema = Type.Object({
  id: Type.String({ description: '`resp_…`' }),
  object: Type.Literal('response'),
  created_at: Type.Integer(),
  status: Type.String({ description: '`completed`, `incomplete`, `failed` or `in_progress`' }),
  model: Type.String(),
  output: Type.Array(Type.Object({ type: Type.String() }, Open), { description: '`message` items (`output_text` parts), `function_call` items (`call_id`, `name`, `arguments`), `reasoning` items (`summary`)' }),
  usage: Type.Union([Type.Object({
    input_tokens: Type.Integer(),
    output_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
  }, Open), Type.Null()]),
}, {
  ...Open,
  description: 'With `stream: true` the answer is instead `text/event-stream`: typed events (`response.created` … `response.completed`), each with a `sequence_number`; a failure after the first event is `response.failed` and nothing after it.',
  examples: [{
    id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b', object: 'response', created_at: 1741476542, status: 'completed', completed_at: 1741476543,
    error: null, incomplete_details: null, instructions: 'You answer in one sentence.', max_output_tokens: null, model: 'gpt-4o-mini',
    output: [{ id: 'msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'A circuit breaker stops calling a failing service for a while so it can recover.' }] }],
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null }, store: true, temperature: 0.2,
    text: { format: { type: 'text' } }, tool_choice: 'auto', tools: [], top_p: 1, truncation: 'disabled',
    usage: { input_tokens: 24, input_tokens_details: { cached_tokens: 0 }, output_tokens: 17, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 41 },
    user: null, metadata: {},
  }],
})

export const ResponseIdParams = Type.Object({ id: Type.String({ minLength: 1, description: 'A response id from POST /v1/responses' }) })

export const ResponseDeleted = Type.Object({
  id: Type.String(),
  object: Type.Literal('response'),
  deleted: Type.Literal(true),
}, { examples: [{ id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b', object: 'response', deleted: true }] })

export const InputItemList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({ type: Type.String() }, Open)),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
}, { examples: [{ object: 'list', data: [{ id: 'msg_abc', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'What is a circuit breaker?' }] }], first_id: 'msg_abc', last_id: 'msg_abc', has_more: false }] })
