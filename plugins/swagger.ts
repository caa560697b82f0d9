// OpenAPI 3.1 document generated from the routes' TypeBox schemas (@fastify/swagger, no
// hand-kept spec), served as JSON at /docs/json and as Swagger UI at /docs (@fastify/swagger-ui).
// What auth and rate limiting add to a route (security requirement, 401, 429, x-ratelimit-*
// headers) is added here, in one place, from the same rules those plugins apply.
// Decorates `app.swagger()` (via @fastify/swagger). Registered before any route: it collects
// routes as they are added. Depends on nothing else.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Type } from '@sinclair/typebox'
import type { FastifySchema } from 'fastify'
import pkg from '../package.json' with { type: 'json' }
import { isProtectedUrl } from './auth.ts'
import { isRateLimitExempt } from './rate-limit.ts'
import { ErrorEnvelope } from '../routes/v1/schemas.ts'
import { PAGE_CSP_DIRECTIVES, cspHeader } from './security-headers.ts'

export const DOCS_PREFIX = '/docs'

const DESCRIPTION = [
  'tiergate is an OpenAI-compatible gateway: point any OpenAI SDK at `/v1` and it routes each request',
  'to the providers that serve the model, in priority tiers, each behind a circuit breaker, falling back',
  'to the next candidate when one fails. Answers say who served them in `x-tiergate-provider`,',
  '`x-tiergate-tier` and `x-tiergate-attempts`. Errors always use the OpenAI envelope',
  '`{"error":{"message","type","param","code"}}`.',
].join(' ')

const TAGS = [
  { name: 'OpenAI-compatible', description: 'The OpenAI API surface: chat completions (JSON or SSE), embeddings, models.' },
  { name: 'Anthropic-compatible', description: 'The Anthropic Messages API (`ANTHROPIC_BASE_URL` = the gateway): messages (JSON or SSE) and count_tokens, over the same tiered fallback; errors in Anthropic\'s envelope.' },
  { name: 'OpenAI Responses', description: 'The OpenAI Responses API (`/v1/responses`): native on the `openai` provider, translated on every other; stored responses and `previous_response_id` chains.' },
  { name: 'Sessions', description: 'Server-side conversation history (`session_id`).' },
  { name: 'Operations', description: 'Liveness, readiness, provider status and Prometheus metrics. Health and metrics need no key.' },
]

/** The part of the generated document transformObject touches. */
interface OpenApiPaths {
  paths?: Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>>
}

const SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]

const rateLimitHeaders = {
  'x-ratelimit-limit': { description: 'Requests allowed per window (RATE_LIMIT_MAX).', schema: { type: 'integer' } },
  'x-ratelimit-remaining': { description: 'Requests left in the current window.', schema: { type: 'integer' } },
  'x-ratelimit-reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
}

const ErrorWith = (description: string) => Type.Object(ErrorEnvelope.properties, { description })

// Swagger UI's scripts are files from /docs/static, so scripts stay `'self'` only; but it
// injects a <style> element at run time (blocked under `style-src 'self'`, as the browser test
// shows), so its page, and only its page, allows inline styles.
const DOCS_CSP = cspHeader({ ...PAGE_CSP_DIRECTIVES, 'script-src': "'self'", 'style-src': "'self' 'unsafe-inline'" })

/**
 * find-my-way's trailing `*` (model ids contain slashes) is not an OpenAPI path template:
 * document it as an ordinary `{id}` parameter. Clients send the id unescaped, slashes included.
 */
function wildcardAsParameter(schema: FastifySchema, url: string): { schema: FastifySchema; url: string } {
  const params = schema.params as { properties?: Record<string, unknown> } | undefined
  if (!url.endsWith('/*') || !params?.properties?.['*']) return { schema, url }
  const id = { ...(params.properties['*'] as object), description: 'The id; it may contain slashes (`meta-llama/llama-3-8b`).' }
  return { schema: { ...schema, params: { type: 'object', properties: { id }, required: ['id'] } }, url: `${url.slice(0, -1)}{id}` }
}

export default fp(async function swaggerPlugin(app) {
  const authEnabled = app.config.gatewayApiKeys.length > 0
  const rateLimited = app.config.rateLimit.max > 0

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'tiergate', version: pkg.version, description: DESCRIPTION, license: { name: pkg.license, identifier: pkg.license } },
      tags: TAGS,
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A key from GATEWAY_API_KEYS (only when it is set).' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key, in the x-api-key header (as Anthropic clients send it).' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      if (!schema || schema.hide) return { schema, url }
      const documented: FastifySchema & { security?: unknown } = { ...schema }
      const response: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) }
      if (authEnabled && isProtectedUrl(url)) {
        documented.security = SECURITY
        response[401] ??= ErrorWith('Missing or invalid gateway key (GATEWAY_API_KEYS).')
      }
      if (rateLimited && !isRateLimitExempt(String(route.method), url)) {
        response[429] ??= ErrorWith('Over RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW; see Retry-After.')
      }
      documented.response = response
      return wildcardAsParameter(documented, url)
    },
    transformObject: (documentObject) => {
      const openapiObject = (documentObject as { openapiObject: OpenApiPaths }).openapiObject
      if (!rateLimited) return openapiObject
      // Every limited answer carries the budget headers; say so on each success response.
      for (const [path, item] of Object.entries(openapiObject.paths ?? {})) {
        if (isRateLimitExempt('GET', path)) continue
        for (const operation of Object.values(item)) {
          const responses = operation.responses
          if (!responses) continue
          for (const [status, answer] of Object.entries(responses)) {
            if (status.startsWith('2') || status === '429') answer.headers = { ...rateLimitHeaders, ...answer.headers }
          }
        }
      }
      return openapiObject
    },
  })

  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    // The online validator would send the document to a third party; never.
    validatorUrl: false,
    uiConfig: { deepLinking: true, displayRequestDuration: true, persistAuthorization: true, tryItOutEnabled: false },
    theme: { title: 'tiergate API' },
  })
}, { name: 'swagger' })
