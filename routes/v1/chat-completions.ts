// POST /v1/chat/completions — decode (dialects/openai-chat) → app.chat (the pipeline:
// session → cache → router) → encode as JSON or SSE.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { ChatRequest } from '../../providers/contract.ts'
import { ChatCompletionRequest, ChatCompletionResponse, errorResponses } from './schemas.ts'
import { requestContext } from '../../plugins/request-context.ts'
import { createRedactor } from '../../plugins/redact.ts'
import { sessionIdOf } from '../../plugins/sessions/turn.ts'
import { decodeChatRequest } from '../../dialects/openai-chat/request.ts'
import { openAIChatEncoder } from '../../dialects/openai-chat/stream.ts'
import { sendSse } from '../../dialects/sse-body.ts'

export default async function chatCompletions(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const redact = createRedactor(app.config.secrets)
  app.post('/v1/chat/completions', {
    config: { dialect: 'openai' },
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'Create a chat completion (streamed or not), with tiered fallback',
      description: 'OpenAI Chat Completions. With `session_id` (or an `x-session-id` header) the stored conversation is prepended and this turn is saved once it completes; send only the new messages. The answer carries `x-tiergate-provider`, `x-tiergate-tier` and `x-tiergate-attempts`. With `stream: true` it is SSE; a failure after the first chunk ends the stream with an `error` event and no `[DONE]`.',
      body: ChatCompletionRequest,
      response: { 200: ChatCompletionResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    const body = request.body as ChatRequest
    const sessionId = sessionIdOf(request, body)
    const { request: chatRequest } = decodeChatRequest(body)
    const routed = await app.chat(chatRequest, { ...requestContext(request, reply), sessionId, clientKeyId: request.clientKeyId, conversationId: sessionId })
    reply.header('x-tiergate-provider', routed.provider)
      .header('x-tiergate-tier', String(routed.tier))
      .header('x-tiergate-attempts', String(routed.attempts))
    if (routed.cache) reply.header('x-tiergate-cache', routed.cache)
    if (!routed.stream) return routed.value
    // The response schema documents JSON answers; a stream is written straight to the socket.
    return sendSse(reply, routed.value, openAIChatEncoder(routed.provider), redact)
  })
}
