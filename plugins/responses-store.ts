// Decorates `app.responsesStore`: stored responses for POST /v1/responses (`store`,
// `previous_response_id`, GET/DELETE /v1/responses/{id}) — Redis when REDIS_URL is set (any
// instance continues any chain), else in memory (TTL, count and byte bounds). Depends on
// `redis` (which owns and closes the client) and on app.config.responses.
import fp from 'fastify-plugin'
import type { ResponsesStore } from './responses-store/store.ts'
import { MemoryResponsesStore } from './responses-store/memory.ts'
import { RedisResponsesStore } from './responses-store/redis.ts'

declare module 'fastify' {
  interface FastifyInstance {
    responsesStore: ResponsesStore
  }
}

export default fp(async function responsesStore(app) {
  const limits = app.config.responses
  const store: ResponsesStore = app.redis ? new RedisResponsesStore(app.redis, limits) : new MemoryResponsesStore(limits)
  app.decorate('responsesStore', store)
  app.log.debug({ store: store.kind, ...limits }, 'responses store ready')
}, { name: 'responses-store', dependencies: ['redis'] })
