// TypeBox schemas of the /v1 surface: one source for validation, OpenAPI and types.
// Objects stay open (additionalProperties): fields tiergate does not know pass through untouched.
import { Type } from '@sinclair/typebox'

const Open = { additionalProperties: true } as const

export const ErrorEnvelope = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
}, {
  description: 'OpenAI-shaped error',
  examples: [{ error: { message: 'All providers failed for `gpt-4o-mini`: openai (tier 1): HTTP 503; groq (tier 2): circuit breaker open', type: 'service_unavailable', param: null, code: 'all_providers_failed' } }],
})

const ContentPart = Type.Object({ type: Type.String() }, Open)

export const ChatMessage = Type.Object({
  role: Type.Union(['system', 'developer', 'user', 'assistant', 'tool'].map((r) => Type.Literal(r))),
  content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPart), Type.Null()])),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(Type.Object({
    id: Type.String(),
    type: Type.Literal('function'),
    function: Type.Object({ name: Type.String(), arguments: Type.String() }, Open),
  }, Open))),
  tool_call_id: Type.Optional(Type.String()),
}, Open)

/**
 * Sane bounds for integers a client sends (issue 9 item 18: `max_tokens`/`seed` of 1e308 were
 * accepted — 1e308 *is* an integer to JSON Schema). Token counts fit a signed 32-bit integer,
 * which every upstream parses; a seed must survive JSON in JavaScript exactly (±2^53−1).
 */
export const MAX_TOKENS_LIMIT = 2_147_483_647
export const SEED_LIMIT = Number.MAX_SAFE_INTEGER
/** Embedding sizes are in the thousands (text-embedding-3-large: 3072). */
export const MAX_EMBEDDING_DIMENSIONS = 65_536

export const ChatCompletionRequest = Type.Object({
  model: Type.String({ minLength: 1, description: 'A model id, an alias from MODEL_ALIASES, or `provider/model` to pin one provider', examples: ['gpt-4o-mini'] }),
  messages: Type.Array(ChatMessage, { minItems: 1, examples: [[{ role: 'user', content: 'Say hello' }]] }),
  stream: Type.Optional(Type.Boolean()),
  stream_options: Type.Optional(Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, Open), Type.Null()])),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: 128 })),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT })),
  max_completion_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT })),
  stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()])),
  seed: Type.Optional(Type.Integer({ minimum: -SEED_LIMIT, maximum: SEED_LIMIT })),
  tools: Type.Optional(Type.Array(Type.Object({
    type: Type.Literal('function'),
    function: Type.Object({ name: Type.String({ minLength: 1 }) }, Open),
  }, Open))),
  tool_choice: Type.Optional(Type.Union([
    Type.Literal('none'), Type.Literal('auto'), Type.Literal('required'),
    Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }, Open) }, Open),
  ])),
  response_format: Type.Optional(Type.Object({ type: Type.String() }, Open)),
  session_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'tiergate: continue a server-side conversation (never sent upstream)' })),
  models: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 16, description: 'tiergate (OpenRouter style): models tried after `model`, in order, each with its own tier order; never sent upstream' })),
  fallbacks: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 16, description: 'tiergate (LiteLLM style): fallback models tried after `model` (and `models`), in order; never sent upstream' })),
}, {
  ...Open,
  description: 'OpenAI Chat Completions request. Fields tiergate does not list pass through to the provider untouched.',
  examples: [{ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You answer in one sentence.' }, { role: 'user', content: 'What is a circuit breaker?' }], temperature: 0.2, stream: false }],
})

export const ChatCompletionResponse = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({ role: Type.Literal('assistant'), content: Type.Union([Type.String(), Type.Null()]) }, Open),
    finish_reason: Type.Union([Type.String(), Type.Null()]),
  }, Open)),
  usage: Type.Optional(Type.Object({ prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer() }, Open)),
}, {
  ...Open,
  description: 'With `stream: true` the answer is instead `text/event-stream`: `data: {chat.completion.chunk}` events, then `data: [DONE]`.',
  examples: [{
    id: 'chatcmpl-9x2', object: 'chat.completion', created: 1726012687, model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'A circuit breaker stops calling a failing service for a while so it can recover.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 24, completion_tokens: 17, total_tokens: 41 },
  }],
})

export const EmbeddingRequest = Type.Object({
  model: Type.String({ minLength: 1, examples: ['text-embedding-3-small'] }),
  input: Type.Union([
    Type.String(),
    Type.Array(Type.String(), { minItems: 1 }),
    Type.Array(Type.Integer(), { minItems: 1 }),
    Type.Array(Type.Array(Type.Integer()), { minItems: 1 }),
  ]),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EMBEDDING_DIMENSIONS })),
  user: Type.Optional(Type.String()),
}, { ...Open, examples: [{ model: 'text-embedding-3-small', input: ['tiered fallback', 'circuit breaker'], encoding_format: 'float' }] })

export const EmbeddingResponse = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({
    object: Type.Literal('embedding'),
    embedding: Type.Union([Type.Array(Type.Number()), Type.String({ description: 'base64 of little-endian float32' })]),
    index: Type.Integer(),
  })),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }, Open),
}, {
  examples: [{ object: 'list', data: [{ object: 'embedding', embedding: [0.0123, -0.0456, 0.0789], index: 0 }], model: 'text-embedding-3-small', usage: { prompt_tokens: 3, total_tokens: 3 } }],
})

export const Model = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String({ description: 'the provider that serves it first (lowest tier)' }),
  providers: Type.Array(Type.String(), { description: 'tiergate: every provider that serves it, in tier order' }),
})

export const ModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(Model) }, {
  examples: [{ object: 'list', data: [
    { id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai', providers: ['openai', 'openrouter'] },
    { id: 'llama3.2', object: 'model', created: 0, owned_by: 'ollama', providers: ['ollama'] },
  ] }],
})

/** Error responses every /v1 route may give. */
export const errorResponses = {
  400: ErrorEnvelope, 401: ErrorEnvelope, 404: ErrorEnvelope, 413: ErrorEnvelope,
  415: ErrorEnvelope, 429: ErrorEnvelope, 500: ErrorEnvelope, 503: ErrorEnvelope,
}
