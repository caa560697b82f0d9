// The app plugin: the whole graph on one screen, registered in order.
// Cross-cutting plugins first, then providers (each registers itself into app.providers when
// its configuration enables it; registration order does not set priority — tiers do), then routes.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import type { SpanExporter } from '@opentelemetry/sdk-trace'

import errors from './plugins/errors.ts'
import events from './plugins/events.ts'
import upstream from './plugins/upstream.ts'
import registry from './plugins/registry.ts'
import discovery from './plugins/discovery.ts'
import startupSummary from './plugins/startup-summary.ts'
import router from './plugins/router.ts'
import redis from './plugins/redis.ts'
import auth from './plugins/auth.ts'
import securityHeaders from './plugins/security-headers.ts'
import cors from './plugins/cors.ts'
import swagger from './plugins/swagger.ts'
import metrics from './plugins/metrics.ts'
import rateLimit from './plugins/rate-limit.ts'
import bodyDepth from './plugins/body-depth.ts'
import contentEncoding from './plugins/content-encoding.ts'
import secretGuard from './plugins/secret-guard.ts'
import sessions from './plugins/sessions.ts'
import pipeline from './plugins/pipeline.ts'
import tokenizer from './plugins/tokenizer.ts'
import responsesStore from './plugins/responses-store.ts'
import responseCache from './plugins/cache.ts'
import telemetry from './plugins/telemetry.ts'
import redisStateSync from './plugins/state/redis-sync.ts'
import affinity from './plugins/affinity.ts'

import openai from './providers/openai.ts'
import groq from './providers/groq.ts'
import openrouter from './providers/openrouter.ts'
import gemini from './providers/gemini.ts'
import mistral from './providers/mistral.ts'
import custom from './providers/custom.ts'
import ollama from './providers/ollama/index.ts'
import gpt4all from './providers/gpt4all.ts'
import local from './providers/local/index.ts'
import anthropic from './providers/anthropic/index.ts'
import g4f from './providers/g4f.ts'
import pollinations from './providers/pollinations.ts'

import health from './routes/health.ts'
import chatCompletions from './routes/v1/chat-completions.ts'
import messages from './routes/v1/messages.ts'
import responsesRoute from './routes/v1/responses.ts'
import embeddings from './routes/v1/embeddings.ts'
import models from './routes/v1/models.ts'
import providers from './routes/providers.ts'
import ready from './routes/ready.ts'
import metricsRoute from './routes/metrics.ts'
import sessionRoutes from './routes/sessions.ts'
import ui from './routes/ui.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface AppOptions {
  config: Config
  /** Tests: where traces go instead of OTLP. */
  spanExporter?: SpanExporter
}

export default fp(async function app(app: FastifyInstance, { config, spanExporter }: AppOptions) {
  app.decorate('config', config)
  // Response schemas document the API; serialization stays JSON.stringify so that fields
  // tiergate does not know (new OpenAI fields, provider extras) reach the client untouched.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  // Only JSON bodies: anything else is a 415 in the OpenAI envelope.
  app.removeContentTypeParser('text/plain')
  // Callback-style hooks on the request path (here and in the plugins): an async hook costs a
  // promise and a microtask turn per request (issue 14).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  // Cross-cutting: errors first (every later failure is enveloped), then shared state.
  await app.register(errors)
  await app.register(events)
  await app.register(redis)
  await app.register(upstream)
  await app.register(registry)
  // Provider health shared through Redis (REDIS_URL): cooldowns and open breakers, fleet-wide.
  await app.register(redisStateSync)
  // Cache-warm routing (AFFINITY_TTL_MS): the router asks it when it is decorated.
  await app.register(affinity)
  await app.register(discovery)
  await app.register(startupSummary)
  await app.register(router)
  // Traces first among the request hooks, so that a refused request (401, 429) is traced too.
  await app.register(telemetry, { spanExporter })

  // Operations: docs, metrics, access control (before any route, so their hooks apply).
  // Hook order matters: CORS answers preflights and decorates even a 401/429; auth sets
  // request.clientKeyId before the rate limiter keys on it.
  await app.register(securityHeaders)
  await app.register(cors)
  await app.register(swagger)
  await app.register(metrics)
  await app.register(auth)
  await app.register(rateLimit)
  // Request bodies nested deeper than BODY_MAX_DEPTH: 400 before anything walks them.
  await app.register(bodyDepth)
  // Compressed request bodies: 415 before the body is read (Fastify does not decompress).
  await app.register(contentEncoding)
  // Secrets: masked in errors and scrubbed from answers (wraps app.router.chat, before sessions and cache see it).
  await app.register(secretGuard)

  // Request stages: sessions, then the pipeline every dialect route calls (app.chat).
  await app.register(sessions)
  await app.register(responseCache)
  await app.register(pipeline)
  await app.register(tokenizer)
  await app.register(responsesStore)

  await app.register(openai)
  await app.register(groq)
  await app.register(openrouter)
  await app.register(gemini)
  await app.register(mistral)
  await app.register(custom)
  // Seed providers (Ollama, GPT4All, Pollinations, Anthropic, G4F).
  await app.register(ollama)
  await app.register(gpt4all)
  await app.register(local)
  await app.register(anthropic)
  await app.register(g4f)
  await app.register(pollinations)

  await app.register(health)
  await app.register(chatCompletions)
  await app.register(messages)
  await app.register(responsesRoute)
  await app.register(embeddings)
  await app.register(models)
  // Operations and UI routes.
  await app.register(providers)
  await app.register(ready)
  await app.register(metricsRoute)
  await app.register(sessionRoutes)
  await app.register(ui)
}, { name: 'tiergate' })
