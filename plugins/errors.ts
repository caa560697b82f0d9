// Every error tiergate answers with, and the handler that turns anything thrown into the
// OpenAI error envelope {"error":{"message","type","param","code"}}.
// Decorates nothing; sets the app's error and not-found handlers (so it is fastify-plugin wrapped).
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { anthropicErrorReply } from '../dialects/anthropic-messages/errors.ts'
import { openAIErrorEnvelope } from '../dialects/openai-chat/errors.ts'
import { describeValidation, type ValidationIssue } from './validation-message.ts'

/** The error envelope a route answers in: `config: { dialect }` on the route (default OpenAI's). */
export type ErrorDialect = 'openai' | 'anthropic'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `client`: a route both dialects share (/v1/models) answers in the caller's (`anthropic-version` → Anthropic's). */
    dialect?: ErrorDialect | 'client'
  }
}

const dialectOf = (request: FastifyRequest): ErrorDialect => {
  const dialect = request.routeOptions?.config?.dialect ?? 'openai'
  if (dialect !== 'client') return dialect
  return request.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai'
}

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'service_unavailable'

export interface ErrorEnvelope {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null }
}

/** An error that already knows how it is shown to the client. */
export class GatewayError extends Error {
  readonly statusCode: number
  readonly type: OpenAIErrorType
  readonly code: string
  readonly param: string | null
  /** Seconds, for the Retry-After header (429/503). */
  readonly retryAfterSeconds: number | undefined

  constructor(statusCode: number, type: OpenAIErrorType, code: string, message: string, param: string | null = null, retryAfterSeconds?: number) {
    super(message)
    this.name = 'GatewayError'
    this.statusCode = statusCode
    this.type = type
    this.code = code
    this.param = param
    this.retryAfterSeconds = retryAfterSeconds
  }

  toEnvelope(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

// Stable codes (prefixed where they are tiergate's own).
export const invalidRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new GatewayError(400, 'invalid_request_error', code, message, param)
/** `hint`: what to do when no provider can answer anything (plugins/startup-summary.ts). */
export const modelNotFound = (model: string, hint?: string) =>
  new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model \`${model}\` does not exist or no enabled provider serves it.${hint ? ` ${hint}` : ''}`, 'model')
export const notFound = (message: string) => new GatewayError(404, 'not_found_error', 'not_found', message)
export const unauthorized = (message = 'Missing or invalid API key. Send Authorization: Bearer <key>.') =>
  new GatewayError(401, 'authentication_error', 'invalid_api_key', message)
/** Credentials in the query string end up in logs and proxies: refused, as the OpenAI API does. */
export const credentialsInQuery = (param: string) =>
  new GatewayError(401, 'authentication_error', 'api_key_in_query', `Credentials are not accepted in the query string (\`${param}\`): send the key in a header, Authorization: Bearer <key> (or x-api-key).`, param)
/** Too many failed authentications from one IP (AUTH_FAILURE_LIMIT per minute). */
export const authFailuresLimited = (retryAfterSeconds: number) =>
  new GatewayError(429, 'rate_limit_error', 'too_many_auth_failures', `Too many failed authentications from this address. Retry in ${retryAfterSeconds} s.`, null, retryAfterSeconds)
export const allProvidersFailed = (message: string) =>
  new GatewayError(503, 'service_unavailable', 'all_providers_failed', message)
export const allProvidersRateLimited = (message: string, retryAfterSeconds: number) =>
  new GatewayError(429, 'rate_limit_error', 'all_providers_failed', message, null, retryAfterSeconds)
/** The body nests objects/arrays deeper than BODY_MAX_DEPTH (checked before routing). */
export const bodyTooDeep = (maxDepth: number) =>
  new GatewayError(400, 'invalid_request_error', 'body_too_deep', `The request body nests objects or arrays more than ${maxDepth} levels deep (BODY_MAX_DEPTH).`)
export const unsupported = (message: string, param: string | null = null) =>
  new GatewayError(400, 'invalid_request_error', 'unsupported_parameter', message, param)
export const sessionNotFound = (id: string) =>
  new GatewayError(404, 'not_found_error', 'session_not_found', `Session \`${id}\` not found (it may have expired).`, 'session_id')
export const sessionStoreUnavailable = () =>
  new GatewayError(503, 'service_unavailable', 'session_store_unavailable', 'The session store is unavailable; retry, or send the request without session_id.')
/** As OpenAI answers an unknown (or another key's) previous_response_id. */
export const previousResponseNotFound = (id: string) =>
  new GatewayError(400, 'invalid_request_error', 'previous_response_not_found', `Previous response with id '${id}' not found.`, 'previous_response_id')
export const responseNotFound = (id: string) =>
  new GatewayError(404, 'invalid_request_error', 'response_not_found', `Response with id '${id}' not found.`)
export const responsesStoreUnavailable = () =>
  new GatewayError(503, 'service_unavailable', 'responses_store_unavailable', 'The responses store is unavailable; retry, or send the whole conversation as `input` without previous_response_id.')

/** Status → OpenAI error type, for upstream client faults relayed as they are. */
export function typeForStatus(status: number): OpenAIErrorType {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'api_error'
  return 'invalid_request_error'
}

/** Fastify's own errors (body parsing, validation, limits) mapped to what a client of OpenAI expects. */
function fromFastifyError(err: FastifyError): GatewayError | undefined {
  if (err.validation) {
    const { message, param } = describeValidation(err.validation as ValidationIssue[])
    const where = err.validationContext === 'body' ? '' : ` in ${err.validationContext}`
    return invalidRequest(`Invalid request${where}: ${message}.`, param)
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest(`We could not parse the JSON body of your request: ${err.message}`, null, 'invalid_json')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError(413, 'invalid_request_error', 'request_too_large', 'The request body is larger than the gateway accepts (BODY_LIMIT_BYTES).')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError(415, 'invalid_request_error', 'unsupported_media_type', 'Unsupported Content-Type: send application/json.')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalidRequest('Content-Length does not match the body.', null, 'invalid_content_length')
  }
  if (err.statusCode === 429) {
    return new GatewayError(429, 'rate_limit_error', 'rate_limit_exceeded', err.message)
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new GatewayError(err.statusCode, typeForStatus(err.statusCode), err.code ?? 'invalid_request', err.message)
  }
  return undefined
}

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  const mapped = fromFastifyError(err as FastifyError)
  if (mapped) return mapped
  // Internals of a 5xx are never shown: the log has them, keyed by request id.
  return new GatewayError(500, 'api_error', 'internal_error', 'The gateway hit an internal error. Quote the x-request-id header when reporting it.')
}

export default fp(async function errors(app: FastifyInstance) {
  app.setErrorHandler((err, request, reply) => {
    const gatewayError = toGatewayError(err)
    if (gatewayError.statusCode >= 500 && !(err instanceof GatewayError)) request.log.error({ err }, 'unhandled error')
    if (gatewayError.retryAfterSeconds !== undefined) reply.header('retry-after', String(gatewayError.retryAfterSeconds))
    // @fastify/rate-limit sets its own retry-after header; keep it.
    if (dialectOf(request) === 'anthropic') {
      // Anthropic's envelope and statuses (529 for all-providers-failed), and its request-id header.
      const { status, body } = anthropicErrorReply(gatewayError)
      return reply.code(status).header('request-id', request.id).send(body)
    }
    return reply.code(gatewayError.statusCode).send(openAIErrorEnvelope(gatewayError))
  })
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(notFound(`Unknown route: ${request.method} ${request.url.split('?')[0]}`).toEnvelope())
  })
}, { name: 'errors' })
