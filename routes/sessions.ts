// GET /sessions/:id (the stored conversation) and DELETE /sessions/:id (forget it).
// A session belongs to the gateway key that created it: for any other key it does not exist.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ChatMessage, ErrorEnvelope } from './v1/schemas.ts'
import { sessionNotFound, sessionStoreUnavailable } from '../plugins/errors.ts'

const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: 'the `session_id` the conversation was started with' }) })

const SessionHistory = Type.Object({
  id: Type.String(),
  object: Type.Literal('session'),
  store: Type.Union([Type.Literal('memory'), Type.Literal('redis')]),
  messages: Type.Array(ChatMessage, { description: 'oldest first; what the next request with this session_id is prepended with' }),
})

const SessionDeleted = Type.Object({ id: Type.String(), object: Type.Literal('session.deleted'), deleted: Type.Literal(true) })

const errors = { 401: ErrorEnvelope, 404: ErrorEnvelope, 503: ErrorEnvelope }

export default async function sessions(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  /** Store outages become a clear 503, not an internal error. */
  async function fromStore<T>(operation: () => Promise<T>, log: typeof app.log): Promise<T> {
    try {
      return await operation()
    } catch (err) {
      log.error({ err, store: app.sessions.kind }, 'session store failed')
      throw sessionStoreUnavailable()
    }
  }

  app.get('/sessions/:id', {
    schema: {
      tags: ['Sessions'],
      summary: 'The stored conversation of a session',
      params: Params,
      response: { 200: SessionHistory, ...errors },
    },
  }, async (request) => {
    const { id } = request.params
    const session = await fromStore(() => app.sessions.get(id), request.log)
    if (!session || session.owner !== (request.clientKeyId ?? '')) throw sessionNotFound(id)
    return { id, object: 'session' as const, store: app.sessions.kind, messages: session.messages as never }
  })

  app.delete('/sessions/:id', {
    schema: {
      tags: ['Sessions'],
      summary: 'Forget a session',
      params: Params,
      response: { 200: SessionDeleted, ...errors },
    },
  }, async (request) => {
    const { id } = request.params
    const deleted = await fromStore(() => app.sessions.delete(id, request.clientKeyId ?? ''), request.log)
    if (!deleted) throw sessionNotFound(id)
    return { id, object: 'session.deleted' as const, deleted: true as const }
  })
}
