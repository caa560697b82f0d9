// POST /v1/responses (OpenAI Responses API), GET and DELETE /v1/responses/{id},
// GET /v1/responses/{id}/input_items. Decode with dialects/openai-responses, call the one
// pipeline (app.chat), encode JSON or the typed SSE events. The `openai` provider gets the
// client's own body (native passthrough); every other provider a translated ChatRequest.
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { NATIVE, NATIVE_WIRE, type ChatRequest } from '../../providers/contract.ts'
import { errorResponses } from './schemas.ts'
import { requestContext } from '../../plugins/request-context.ts'
import type { PipelineContext } from '../../plugins/pipeline.ts'
import { createRedactor } from '../../plugins/redact.ts'
import { invalidRequest, previousResponseNotFound, responseNotFound, responsesStoreUnavailable, unsupported } from '../../plugins/errors.ts'
import { sendSse } from '../../dialects/sse-body.ts'
import { decodeRequest, InvalidInput, paramOf, type Decoded } from '../../dialects/openai-responses/request.ts'
import { toResponseObject, type ResponseFrame } from '../../dialects/openai-responses/response.ts'
import { ResponsesStreamEncoder } from '../../dialects/openai-responses/stream.ts'
import { chainAfter, identifiedInput, nativeBody } from '../../dialects/openai-responses/chain.ts'
import { newId } from '../../dialects/openai-responses/ids.ts'
import { DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT, pageOfItems, type ItemPageQuery } from '../../dialects/openai-responses/input-items.ts'
import { PageQueryError } from '../../dialects/paging.ts'
import { InputItemList, ResponseDeleted, ResponseIdParams, ResponseObjectSchema, ResponsesCreateRequest } from '../../dialects/openai-responses/schema.ts'
import type { Item, ResponseObject, ResponsesRequest } from '../../dialects/openai-responses/types.ts'
import type { ResponsesStore, StoredResponse } from '../../plugins/responses-store/store.ts'
import type { ChatChunk } from '../../providers/contract.ts'

const TAG = 'OpenAI Responses'
/** The provider whose own API is the Responses API: it gets requests tiergate cannot translate. */
const NATIVE_PROVIDER = 'openai'

/**
 * A stored response of `owner`'s, or `notFound(id)` — another key's response looks exactly
 * like a missing one. A store that cannot be read is a 503, never "not found".
 */
async function readOwned(store: ResponsesStore, id: string, owner: string, log: FastifyBaseLogger, notFound: (id: string) => Error): Promise<StoredResponse> {
  let stored: StoredResponse | undefined
  try {
    stored = await store.get(id)
  } catch (err) {
    log.error({ err, store: store.kind }, 'responses store read failed')
    throw responsesStoreUnavailable()
  }
  if (!stored || stored.owner !== owner) throw notFound(id)
  return stored
}

/** Stores the response before the client can see its end (a client may continue the chain at once). */
async function* storedOnEnd(chunks: AsyncIterable<ChatChunk>, encoder: ResponsesStreamEncoder, save: (response: ResponseObject | undefined) => Promise<void>): AsyncGenerator<ChatChunk> {
  yield* chunks
  encoder.seal()
  await save(encoder.response())
}

// No TypeBox type provider: the handlers return open objects (and raw upstream bytes) the
// response schemas document but do not type.
export default async function responses(app: FastifyInstance) {
  const redact = createRedactor(app.config.secrets)
  const store = app.responsesStore

  /** A request only a native Responses upstream can serve is pinned to it, or refused naming why. */
  function pinToNative(model: string, reason: string, param: string): string {
    const candidates = app.router.candidates(model)
    const native = candidates.find((c) => c.entry.name === NATIVE_PROVIDER)
    if (native) return `${NATIVE_PROVIDER}/${native.model}`
    const serving = [...new Set(candidates.map((c) => c.entry.name))].join(', ') || 'no provider'
    throw unsupported(`This request uses ${reason}, which only OpenAI's own Responses API can serve; \`${model}\` is served by ${serving}, which tiergate reaches through Chat Completions. Remove it, or use a model the \`openai\` provider serves.`, param)
  }

  async function save(entry: Omit<StoredResponse, 'response' | 'items' | 'id'>, history: Item[], response: ResponseObject | undefined, log: FastifyBaseLogger): Promise<void> {
    if (!response || response.status === 'failed') return
    try {
      const stored = await store.put({ ...entry, id: response.id, response, items: chainAfter(history, entry.input, response) })
      if (!stored) log.warn({ responseId: response.id }, 'response not stored: its id is held by another key, or it is larger than RESPONSES_MAX_BYTES')
    } catch (err) {
      // The answer is already the client's; losing it from the store is logged, not turned into an error.
      log.error({ err, store: store.kind, responseId: response.id }, 'responses store write failed; this response was not stored')
    }
  }

  app.post('/v1/responses', {
    schema: {
      tags: [TAG],
      summary: 'Create a model response (OpenAI Responses API), streamed or not, with tiered fallback',
      description: 'OpenAI Responses API. On the `openai` provider the request passes through natively (unknown fields and built-in tools survive); on any other provider it is translated through Chat Completions. `store` (default true) keeps the response so that `previous_response_id` continues it on whichever provider answers next. With `stream: true` it is SSE: typed events, each with `sequence_number`; a failure after the first event is `response.failed` and nothing after it.',
      body: ResponsesCreateRequest,
      response: { 200: ResponseObjectSchema, ...errorResponses },
    },
  }, async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as ResponsesRequest
    const owner = request.clientKeyId ?? ''
    const previous = body.previous_response_id ? await readOwned(store, body.previous_response_id, owner, request.log, previousResponseNotFound) : undefined
    const history = previous?.items ?? []
    let decoded: Decoded
    try {
      decoded = decodeRequest(body, history)
    } catch (err) {
      if (err instanceof InvalidInput) throw invalidRequest(err.message, err.param)
      throw err
    }
    if (decoded.request.messages.length === 0 && !decoded.untranslatable) throw invalidRequest("Missing required parameter: 'input'.", 'input')
    const chatRequest: ChatRequest = decoded.request
    chatRequest[NATIVE] = { dialect: 'openai-responses', body: nativeBody(body, history), headers: {} }
    if (decoded.untranslatable) chatRequest.model = pinToNative(body.model, decoded.untranslatable, paramOf(decoded.untranslatable))

    const frame: ResponseFrame = { id: newId('resp'), createdAt: Math.floor(Date.now() / 1000), body }
    const conversationId = previous?.rootId ?? frame.id
    const ctx: PipelineContext = { ...requestContext(request, reply), clientKeyId: request.clientKeyId, conversationId }
    const routed = await app.chat(chatRequest, ctx)
    reply.header('x-tiergate-provider', routed.provider)
      .header('x-tiergate-tier', String(routed.tier))
      .header('x-tiergate-attempts', String(routed.attempts))
    if (routed.cache) reply.header('x-tiergate-cache', routed.cache)
    const entry = { owner, rootId: conversationId, input: identifiedInput(body) }
    // `store: false` keeps nothing (as at OpenAI, whose own answer echoes the flag).
    const keep = body.store !== false

    if (!routed.stream) {
      const wire = routed.value[NATIVE_WIRE]
      if (wire?.dialect === 'openai-responses') {
        // The upstream's own bytes: fields tiergate does not model reach the client untouched.
        if (keep) await save(entry, history, JSON.parse(wire.text) as ResponseObject, request.log)
        return reply.type('application/json; charset=utf-8').send(Buffer.from(wire.text))
      }
      const response = toResponseObject(routed.value, frame)
      if (keep) await save(entry, history, response, request.log)
      return response
    }
    const encoder = new ResponsesStreamEncoder(frame, routed.provider)
    const chunks = storedOnEnd(routed.value, encoder, (response) => (keep ? save(entry, history, response, request.log) : Promise.resolve()))
    // The response schema documents JSON answers; a stream is written straight to the socket.
    return sendSse(reply, chunks, encoder, redact)
  })

  const owned = (id: string, owner: string, log: FastifyBaseLogger) => readOwned(store, id, owner, log, responseNotFound)

  app.get('/v1/responses/:id', {
    schema: {
      tags: [TAG],
      summary: 'Retrieve a stored response (only the gateway key that created it)',
      params: ResponseIdParams,
      querystring: Type.Object({ stream: Type.Optional(Type.Boolean({ description: 'Not supported: replaying the events of a background response (tiergate runs none)' })) }, { additionalProperties: true }),
      response: { 200: ResponseObjectSchema, ...errorResponses },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    if ((request.query as { stream?: boolean }).stream) throw unsupported('Streaming a stored response replays a background response; tiergate runs none. Retrieve it without `stream`.', 'stream')
    return (await owned(id, request.clientKeyId ?? '', request.log)).response
  })

  app.get('/v1/responses/:id/input_items', {
    schema: {
      tags: [TAG],
      summary: 'List the input items of a stored response',
      params: ResponseIdParams,
      querystring: Type.Object({
        order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Newest first (desc, the default) or oldest first' })),
        limit: Type.Optional(Type.String({ description: `Items per page, ${1}–${MAX_ITEMS_LIMIT} (default ${DEFAULT_ITEMS_LIMIT})`, examples: ['20'] })),
        after: Type.Optional(Type.String({ description: 'An item id: the page after it (the last_id of the previous page)' })),
        before: Type.Optional(Type.String({ description: 'An item id: the page before it' })),
      }, { additionalProperties: true }),
      response: { 200: InputItemList, ...errorResponses },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    const stored = await owned(id, request.clientKeyId ?? '', request.log)
    try {
      return pageOfItems(stored.input, request.query as ItemPageQuery)
    } catch (err) {
      if (err instanceof PageQueryError) throw invalidRequest(err.message, err.param)
      throw err
    }
  })

  app.delete('/v1/responses/:id', {
    schema: {
      tags: [TAG],
      summary: 'Delete a stored response (only the gateway key that created it)',
      params: ResponseIdParams,
      response: { 200: ResponseDeleted, ...errorResponses },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    let deleted: boolean
    try {
      deleted = await store.delete(id, request.clientKeyId ?? '')
    } catch (err) {
      request.log.error({ err, store: store.kind }, 'responses store delete failed')
      throw responsesStoreUnavailable()
    }
    if (!deleted) throw responseNotFound(id)
    return { id, object: 'response', deleted: true }
  })
}
