// POST /v1/chat/completions — validate, hand to the router, write JSON or SSE.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { ChatRequest } from '../../providers/contract.ts'
import { ChatCompletionRequest, ChatCompletionResponse, errorResponses } from './schemas.ts'
import { requestContext } from '../../plugins/request-context.ts'
import { SSE_HEADERS, sseBody } from './sse.ts'
import { createRedactor } from '../../plugins/redact.ts'
import { beginSessionTurn } from '../../plugins/sessions/turn.ts'

export default async function chatCompletions(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const redact = createRedactor(app.config.secrets)
  app.post('/v1/chat/completions', {
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'Create a chat completion (streamed or not), with tiered fallback',
      description: 'OpenAI Chat Completions. With `session_id` (or an `x-session-id` header) the stored conversation is prepended and this turn is saved once it completes; send only the new messages. The answer carries `x-tiergate-provider`, `x-tiergate-tier` and `x-tiergate-attempts`. With `stream: true` it is SSE; a failure after the first chunk ends the stream with an `error` event and no `[DONE]`.',
      body: ChatCompletionRequest,
      response: { 200: ChatCompletionResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    const session = await beginSessionTurn(app.sessions, request)
    const body = session?.request ?? (request.body as ChatRequest)
    const routed = await app.router.chat(body, requestContext(request, reply))
    reply.header('x-tiergate-provider', routed.provider)
      .header('x-tiergate-tier', String(routed.tier))
      .header('x-tiergate-attempts', String(routed.attempts))
    if (!routed.stream) {
      await session?.complete(routed.value)
      return routed.value
    }
    const chunks = session ? session.record(routed.value) : routed.value
    reply.headers(SSE_HEADERS)
    // The response schema documents JSON answers; a stream bypasses serialization.
    return reply.send(sseBody(chunks, routed.provider, redact) as never)
  })
}
