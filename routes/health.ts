// GET /health — liveness only: never touches an upstream, answers while the process can.
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'

const startedAt = Date.now()

export default async function health(app: FastifyInstance) {
  app.get('/health', {
    schema: {
      tags: ['Operations'],
      summary: 'Liveness: the process is up (no upstream is called)',
      response: { 200: Type.Object({ status: Type.Literal('ok'), uptime_s: Type.Number() }) },
    },
  }, async () => ({ status: 'ok' as const, uptime_s: Math.round((Date.now() - startedAt) / 1000) }))
}
