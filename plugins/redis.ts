// Decorates `app.redis`: an ioredis client when REDIS_URL is set, else undefined (every
// feature that can share state through Redis falls back to memory). Quits on close.
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | undefined
  }
}

export default fp(async function redis(app) {
  const url = app.config.redisUrl
  if (!url) {
    app.decorate('redis', undefined)
    return
  }
  const client = new Redis(url, {
    // Fail a command fast while Redis is down instead of queueing requests behind it.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectionName: 'tiergate',
  })
  client.on('error', (err) => app.log.warn({ err: err.message }, 'redis error'))
  app.decorate('redis', client)
  app.addHook('onClose', async () => {
    await client.quit().catch(() => client.disconnect())
  })
}, { name: 'redis' })
