// Decorates `app.sessions`: the server-side conversation store — Redis when REDIS_URL is set
// (any instance continues any session), else in memory (LRU + TTL). Depends on `redis`
// (which owns and closes the client) and on the SESSION_* limits in app.config.sessions.
// The chat route's session stage is plugins/sessions/turn.ts; GET/DELETE live in routes/sessions.ts.
import fp from 'fastify-plugin'
import type { SessionStore } from './sessions/store.ts'
import { MemorySessionStore } from './sessions/memory.ts'
import { RedisSessionStore } from './sessions/redis.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore
  }
}

export default fp(async function sessions(app) {
  const limits = app.config.sessions
  const store: SessionStore = app.redis ? new RedisSessionStore(app.redis, limits) : new MemorySessionStore(limits)
  app.decorate('sessions', store)
  app.log.debug({ store: store.kind, ...limits }, 'session store ready')
}, { name: 'sessions', dependencies: ['redis'] })
