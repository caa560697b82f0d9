// POST /v1/messages (Anthropic Messages) and POST /v1/messages/count_tokens — decode with
// dialects/anthropic-messages → app.chat (the same pipeline as Chat Completions: sessions,
// cache, tiered fallback) → encode as an Anthropic message or its SSE events. Errors on these
// routes are Anthropic's envelope (`config.dialect`, plugins/errors.ts) with a request-id header.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { requestContext } from '../../plugins/request-context.ts'
import { createRedactor } from '../../plugins/redact.ts'
import { sessionIdOf } from '../../plugins/sessions/turn.ts'
import { sendSse } from '../../dialects/sse-body.ts'
import { decodeMessagesRequest } from '../../dialects/anthropic-messages/request.ts'
import { messagesResponseBody } from '../../dialects/anthropic-messages/response.ts'
import { MessagesStreamEncoder } from '../../dialects/anthropic-messages/stream.ts'
import type { AnthropicRequest } from '../../dialects/anthropic-messages/wire.ts'
import { CountTokensRequest, CountTokensResponse, MessagesRequest, MessagesResponse, messagesErrorResponses } from '../../dialects/anthropic-messages/schemas.ts'
import { countTokens } from './count-tokens.ts'

const DESCRIPTION = [
  'Anthropic Messages API, over the same tiered fallback as Chat Completions: point the Anthropic SDK or a coding agent at the gateway (`ANTHROPIC_BASE_URL`) with a gateway key in `x-api-key`.',
  'When the serving provider is Anthropic, the request goes upstream as it is and its events come back byte for byte (cache_control, thinking signatures, unknown fields survive);',
  'any other provider is translated (README "Inbound dialects" lists what survives). `anthropic-version` is accepted whatever its value and forwarded to Anthropic.',
  'With `stream: true` the answer is Anthropic\'s event sequence; a failure after the first event ends it with `event: error` and no `message_stop`.',
  'Errors use Anthropic\'s envelope; 529 `overloaded_error` means every provider failed. `session_id` (tiergate\'s, never sent upstream) or an `x-session-id` header continues a server-side session.',
].join(' ')

export default async function messages(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const redact = createRedactor(app.config.secrets)
  const { pingIntervalMs } = app.config.messages

  // Anthropic answers carry `request-id` (errors too: plugins/errors.ts sets it for hook failures).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('request-id', request.id)
    done()
  })

  app.post('/v1/messages', {
    config: { dialect: 'anthropic' },
    schema: {
      tags: ['Anthropic-compatible'],
      summary: 'Create a message (Anthropic Messages, streamed or not), with tiered fallback',
      description: DESCRIPTION,
      body: MessagesRequest,
      response: { 200: MessagesResponse, ...messagesErrorResponses },
    },
  }, async (request, reply) => {
    const body = request.body as AnthropicRequest
    // tiergate's session: `session_id` in the body (never sent upstream) or the x-session-id header.
    const sessionId = sessionIdOf(request, body)
    const chatRequest = decodeMessagesRequest(body, { headers: request.headers })
    const routed = await app.chat(chatRequest, { ...requestContext(request, reply), sessionId, clientKeyId: request.clientKeyId, conversationId: sessionId })
    reply.header('x-tiergate-provider', routed.provider)
      .header('x-tiergate-tier', String(routed.tier))
      .header('x-tiergate-attempts', String(routed.attempts))
    if (routed.cache) reply.header('x-tiergate-cache', routed.cache)
    if (!routed.stream) {
      // A string body with a JSON content type is sent as it is: a native answer byte for byte.
      return reply.type('application/json; charset=utf-8').send(messagesResponseBody(routed.value, body.stop_sequences) as never)
    }
    const encoder = new MessagesStreamEncoder({ model: body.model, stopSequences: body.stop_sequences, pingIntervalMs })
    return sendSse(reply, routed.value, encoder, redact)
  })

  app.post('/v1/messages/count_tokens', {
    config: { dialect: 'anthropic' },
    schema: {
      tags: ['Anthropic-compatible'],
      summary: 'Count the input tokens of a Messages request',
      description: "Anthropic's own count (its `/v1/messages/count_tokens`) when the provider that would serve the model is Anthropic; otherwise an estimate with the `o200k_base` tokenizer (js-tiktoken). `x-tiergate-token-count` says which: `anthropic` or `estimate`.",
      body: CountTokensRequest,
      response: { 200: CountTokensResponse, ...messagesErrorResponses },
    },
  }, async (request, reply) => {
    const counted = await countTokens(app, request.body as AnthropicRequest, request.headers, requestContext(request, reply))
    reply.header('x-tiergate-token-count', counted.source)
    if (counted.provider) reply.header('x-tiergate-provider', counted.provider)
    return { input_tokens: counted.inputTokens }
  })
}
