// GET /health/ready — readiness: 503 until at least one provider can serve (a model catalog
// or a catch-all, and a breaker that is not open) and, when REDIS_URL is set, Redis answers
// PING. Load balancers and orchestrators send traffic only to a ready instance; /health stays
// the liveness probe (it never looks at providers).
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { Type } from '@sinclair/typebox'
import type { ProviderEntry } from '../plugins/registry.ts'

/** A PING slower than this counts as Redis not answering. */
const REDIS_PING_TIMEOUT_MS = 1_000

/**
 * "Serving": a catalog (or a catch-all) and not every breaker open. The one definition that
 * /health/ready, GET /providers (`serving`), the status page and the playground all show.
 */
export const isServing = (entry: ProviderEntry) =>
  entry.breakers.summary() !== 'open' && (entry.provider.catchAll === true || entry.provider.models().length > 0)

async function redisAnswers(redis: Redis): Promise<boolean> {
  // While ioredis is (re)connecting, a PING would only wait in its queue: that is "down".
  if (redis.status !== 'ready') return false
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, REDIS_PING_TIMEOUT_MS, false) })
  try {
    return await Promise.race([redis.ping().then((pong) => pong === 'PONG', () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  providers: Type.Object({
    enabled: Type.Integer({ description: 'providers registered from the configuration' }),
    serving: Type.Array(Type.String(), { description: 'providers with a catalog (or catch-all) and a breaker that is not open' }),
  }),
  redis: Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('not_configured')]),
}, {
  examples: [{ status: 'ready', providers: { enabled: 2, serving: ['groq', 'ollama'] }, redis: 'not_configured' }],
})

export default async function ready(app: FastifyInstance) {
  app.get('/health/ready', {
    schema: {
      tags: ['Operations'],
      summary: 'Readiness: 200 once a provider can serve and Redis (when configured) answers, else 503',
      response: { 200: Readiness, 503: { ...Readiness, description: 'Not ready: no provider can serve, or Redis does not answer' } },
    },
  }, async (_request, reply) => {
    const entries = app.providers.list()
    const serving = entries.filter(isServing).map((entry) => entry.name)
    const redis = app.redis === undefined ? 'not_configured' as const : (await redisAnswers(app.redis)) ? 'ok' as const : 'down' as const
    const isReady = serving.length > 0 && redis !== 'down'
    reply.code(isReady ? 200 : 503)
    return { status: isReady ? 'ready' as const : 'not_ready' as const, providers: { enabled: entries.length, serving }, redis }
  })
}
