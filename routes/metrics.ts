// GET /metrics — Prometheus text exposition of this instance's registry (plugins/metrics.ts).
// Open like /health (auth and rate limiting leave it alone), so a scraper needs no key.
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'

export default async function metricsRoute(app: FastifyInstance) {
  app.get('/metrics', {
    schema: {
      tags: ['Operations'],
      summary: 'Prometheus metrics: requests, upstream attempts, fallbacks, latency, breakers, tokens',
      description: 'Text exposition format 0.0.4. Every tiergate series is prefixed `tiergate_`; the standard `process_*` and `nodejs_*` series come from prom-client.',
      response: {
        200: {
          description: 'Prometheus text format',
          content: { 'text/plain': { schema: Type.String({ examples: ['# TYPE tiergate_fallbacks_total counter\ntiergate_fallbacks_total{from_tier="1",to_tier="2"} 3\n'] }) } },
        },
      },
    },
  }, async (_request, reply) => {
    const { registry } = app.metrics
    reply.type(registry.contentType)
    return registry.metrics()
  })
}
