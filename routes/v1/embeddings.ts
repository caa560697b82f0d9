// POST /v1/embeddings. The official SDKs ask for `encoding_format: "base64"` by default and
// decode little-endian float32; upstreams that only return float arrays get encoded here.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { EmbeddingRequest as EmbeddingRequestType } from '../../providers/contract.ts'
import { EmbeddingRequest, EmbeddingResponse, errorResponses } from './schemas.ts'
import { requestContext } from '../../plugins/request-context.ts'

export function floatsToBase64(vector: number[]): string {
  const floats = Float32Array.from(vector)
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64')
}

export function base64ToFloats(encoded: string): number[] {
  const bytes = Buffer.from(encoded, 'base64')
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))
}

export default async function embeddings(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post('/v1/embeddings', {
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'Create embeddings, with tiered fallback across providers that support them',
      body: EmbeddingRequest,
      response: { 200: EmbeddingResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    const body = request.body as EmbeddingRequestType
    const routed = await app.router.embed(body, requestContext(request, reply))
    const wantBase64 = body.encoding_format === 'base64'
    const data = routed.value.data.map((item) => {
      if (wantBase64 && Array.isArray(item.embedding)) return { ...item, embedding: floatsToBase64(item.embedding) }
      if (!wantBase64 && typeof item.embedding === 'string') return { ...item, embedding: base64ToFloats(item.embedding) }
      return item
    })
    reply.header('x-tiergate-provider', routed.provider)
      .header('x-tiergate-tier', String(routed.tier))
      .header('x-tiergate-attempts', String(routed.attempts))
    return { ...routed.value, data }
  })
}
