// TypeBox schemas of POST /v1/messages and /v1/messages/count_tokens: one source for
// validation, the OpenAPI document and examples. Objects stay open (additionalProperties):
// fields tiergate does not know (cache_control, citations, server tools, new API fields) pass
// untouched to a native Anthropic upstream.
import { Type } from '@sinclair/typebox'
import { MAX_TOKENS_LIMIT } from '../../routes/v1/schemas.ts'

const Open = { additionalProperties: true } as const

export const AnthropicErrorEnvelope = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
}, {
  description: 'Anthropic-shaped error (with a `request-id` header)',
  examples: [{ type: 'error', error: { type: 'overloaded_error', message: 'All providers failed for `claude-sonnet-4-5`: anthropic (tier 1): HTTP 529; groq (tier 2): circuit breaker open' } }],
})

const Block = Type.Object({ type: Type.String({ minLength: 1 }) }, { ...Open, description: 'A content block: text, image, tool_use, tool_result, thinking, redacted_thinking, document, …' })

const Message = Type.Object({
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.Union([Type.String(), Type.Array(Block)]),
}, Open)

const System = Type.Union([Type.String(), Type.Array(Type.Object({ type: Type.Literal('text'), text: Type.String() }, Open))])

const Tool = Type.Object({
  name: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String()),
  input_schema: Type.Optional(Type.Object({}, Open)),
  type: Type.Optional(Type.String()),
}, Open)

const ToolChoice = Type.Object({
  type: Type.Union(['auto', 'any', 'tool', 'none'].map((t) => Type.Literal(t))),
  name: Type.Optional(Type.String()),
  disable_parallel_tool_use: Type.Optional(Type.Boolean()),
}, Open)

const Thinking = Type.Object({
  type: Type.String({ description: '`enabled` (with budget_tokens) or `disabled`' }),
  budget_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
}, Open)

/** The fields count_tokens and messages share. */
const inputFields = {
  model: Type.String({ minLength: 1, description: 'A model id, an alias from MODEL_ALIASES, or `provider/model` to pin one provider', examples: ['claude-sonnet-4-5'] }),
  messages: Type.Array(Message, { minItems: 1 }),
  system: Type.Optional(System),
  tools: Type.Optional(Type.Array(Tool)),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(Thinking),
}

export const MessagesRequest = Type.Object({
  ...inputFields,
  max_tokens: Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT, description: 'Required, as Anthropic requires it' }),
  stream: Type.Optional(Type.Boolean()),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TOKENS_LIMIT })),
  stop_sequences: Type.Optional(Type.Array(Type.String())),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.String()) }, Open)),
  session_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'tiergate: continue a server-side conversation (never sent upstream; or the x-session-id header)' })),
}, {
  ...Open,
  description: 'Anthropic Messages request. Fields tiergate does not list reach a native Anthropic upstream untouched.',
  examples: [{ model: 'claude-sonnet-4-5', max_tokens: 256, system: 'You answer in one sentence.', messages: [{ role: 'user', content: 'What is a circuit breaker?' }] }],
})

const ResponseBlock = Type.Object({ type: Type.String() }, Open)

export const MessagesResponse = Type.Object({
  id: Type.String(),
  type: Type.Literal('message'),
  role: Type.Literal('assistant'),
  model: Type.String(),
  content: Type.Array(ResponseBlock),
  stop_reason: Type.Union([Type.String(), Type.Null()]),
  stop_sequence: Type.Union([Type.String(), Type.Null()]),
  usage: Type.Object({
    input_tokens: Type.Integer(),
    output_tokens: Type.Integer(),
    cache_creation_input_tokens: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    cache_read_input_tokens: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  }, Open),
}, {
  ...Open,
  description: 'With `stream: true` the answer is instead `text/event-stream`: message_start, content_block_start/delta/stop per block, message_delta, message_stop (ping during silences); a failure after the first event is `event: error` and no message_stop.',
  examples: [{
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: 'A circuit breaker stops calling a failing service for a while so it can recover.' }],
    stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: 24, output_tokens: 17, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  }],
})

export const CountTokensRequest = Type.Object(inputFields, {
  ...Open,
  description: 'The input of a Messages request (no max_tokens).',
  examples: [{ model: 'claude-sonnet-4-5', system: 'You are terse.', messages: [{ role: 'user', content: 'Hello, Claude' }] }],
})

export const CountTokensResponse = Type.Object({ input_tokens: Type.Integer() }, {
  description: "Anthropic's own count when the serving provider is Anthropic, else an o200k_base estimate (the `x-tiergate-token-count` header says which).",
  examples: [{ input_tokens: 14 }],
})

/** Error responses of the Messages routes (529 = every provider failed). */
export const messagesErrorResponses = {
  400: AnthropicErrorEnvelope, 401: AnthropicErrorEnvelope, 404: AnthropicErrorEnvelope, 413: AnthropicErrorEnvelope,
  429: AnthropicErrorEnvelope, 500: AnthropicErrorEnvelope, 529: AnthropicErrorEnvelope,
}
