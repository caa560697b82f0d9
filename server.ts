// Entry point: builds Fastify with the server options, registers the app, listens, and
// closes gracefully on SIGTERM/SIGINT. `npm start` and the container run this file.
import Fastify, { type FastifyInstance } from 'fastify'
import pino, { type DestinationStream } from 'pino'
import type { SpanExporter } from '@opentelemetry/sdk-trace'
import app from './app.ts'
import { loadConfig, ConfigError, type Config } from './config.ts'
import { clientErrorHandler, frameworkErrors } from './plugins/http-errors.ts'
import { requestIdOf } from './plugins/request-context.ts'
import { createRedactor, logRedaction, registerSecrets } from './plugins/redact.ts'
import { collectStartupGarbage, exposedGc } from './startup-garbage.ts'

/**
 * Pending-connection queue. Node's default (511) overflows when a thousand clients connect at
 * once (the fallback load run), and each overflow costs the client a SYN retransmit of 1 s or
 * more; the kernel caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096


/** Node's own limit on receiving the headers; it may not exceed the whole request's. */
const NODE_HEADERS_TIMEOUT_MS = 60_000
/** How often Node checks the request timeouts: a quarter of the limit, within these bounds. */
const MIN_TIMEOUT_CHECK_INTERVAL_MS = 100
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 30_000
/**
 * Session ids are accepted up to 200 characters (plugins/sessions/turn.ts); find-my-way's
 * default (100) made /sessions/:id a 404 for longer ones. Above 200, so that an overlong id
 * gets the route schema's clear 400 rather than a 404.
 */
const MAX_PATH_PARAM_CHARS = 1024

/**
 * Node's HTTP server options for the request timeout (issue 9 item 11). `requestTimeout` is
 * the time to receive the whole request — headers and body — and never limits the response,
 * so a long stream is never cut by it; a client that sends headers and then nothing is.
 */
export function httpServerOptions(requestTimeoutMs: number) {
  if (requestTimeoutMs === 0) return { requestTimeout: 0 }
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(NODE_HEADERS_TIMEOUT_MS, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, Math.max(MIN_TIMEOUT_CHECK_INTERVAL_MS, Math.floor(requestTimeoutMs / 4))),
  }
}

/** Whether the client is still sending a body this request declared. */
function bodyStillArriving(raw: { complete: boolean; readableLength: number; headers: Record<string, string | string[] | undefined> }): boolean {
  if (raw.complete) return false
  const length = raw.headers['content-length']
  if (raw.headers['transfer-encoding'] !== undefined) return true
  if (length === undefined || length === '0') return false
  // `complete` is set only once the body is read; a small body may be here, buffered, unread.
  return raw.readableLength < Number(length)
}

const trustNearestHops = (hops: number) => (_address: string, hop: number) => hop < hops

export interface ServerOptions {
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: DestinationStream
  /** Traces go here instead of OTLP (tests: the SDK's in-memory exporter); see plugins/telemetry.ts. */
  spanExporter?: SpanExporter
}

export async function buildServer(config: Config, options: ServerOptions = {}): Promise<FastifyInstance> {
  const logger = pino({ level: config.logLevel, ...logRedaction(createRedactor(config.secrets)) }, options.logStream ?? pino.destination(1))
  // Before any plugin runs: errors from start-up discovery are redacted at birth too (plugins/secret-guard.ts).
  const unregisterSecrets = registerSecrets(config.secrets)
  const fastify = Fastify({
    loggerInstance: logger,
    bodyLimit: config.bodyLimitBytes,
    http: httpServerOptions(config.server.requestTimeoutMs),
    requestTimeout: config.server.requestTimeoutMs,
    // Socket inactivity: a connection that sends and receives nothing this long is closed.
    connectionTimeout: config.server.connectionTimeoutMs,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_CHARS },
    genReqId: requestIdOf,
    return503OnClosing: true,
    // TRUST_PROXY: the client address comes from X-Forwarded-For only behind a proxy we trust.
    // (A hop count as proxy-addr reads it: trust the nearest N hops; Fastify's types omit numbers.)
    trustProxy: typeof config.trustProxy === 'number' ? trustNearestHops(config.trustProxy) : config.trustProxy,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    // Bad URLs, unparsable requests, oversized headers: the OpenAI envelope too (plugins/http-errors.ts).
    frameworkErrors,
    clientErrorHandler,
  })
  // Node's close() ends only the keep-alive connections idle at that moment. While closing,
  // one whose last response just finished is idle too: end it now, so that a shutdown ends
  // with the last in-flight response instead of waiting out keep-alive or the grace period.
  // Callback-style hooks here: an async hook costs a promise and a microtask turn per request (issue 14).
  fastify.addHook('onResponse', (_request, _reply, done) => {
    if (!fastify.server.listening) setImmediate(() => fastify.server.closeIdleConnections())
    done()
  })
  // Refused before its body arrived (401, 413, 429…): Node would keep the connection to read
  // the rest, and a client that never sends it held a file descriptor forever (19,980 such
  // connections exhausted them). Answer and close: `connection: close` makes Node end the socket.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode < 400) return done(null, payload)
    // A refusal may be decided in the very turn the headers were parsed (a synchronous onRequest
    // hook: auth, content encoding), before Node has handed the request the body bytes that came
    // in the same read. One microtask later that read is parsed: only then is the question fair.
    queueMicrotask(() => {
      if (bodyStillArriving(request.raw)) reply.header('connection', 'close')
      done(null, payload)
    })
  })
  fastify.addHook('onClose', async () => unregisterSecrets())
  await fastify.register(app, { config, spanExporter: options.spanExporter })
  return fastify as unknown as FastifyInstance
}

async function start(): Promise<void> {
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  const server = await buildServer(config)
  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    server.log.info({ signal, graceMs: config.resilience.shutdownGraceMs }, 'shutting down: refusing new connections, finishing in-flight requests')
    const force = setTimeout(() => {
      server.log.warn('grace period over: closing remaining connections')
      server.server.closeAllConnections()
    }, config.resilience.shutdownGraceMs)
    force.unref()
    await server.close()
    clearTimeout(force)
    process.exit(0)
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
  await server.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG })
  collectStartupGarbage(exposedGc())
  const providers = server.providers.list().map((e) => `${e.name}(tier ${e.tier})`)
  server.log.info({ providers }, providers.length ? 'tiergate is ready' : 'tiergate is ready, but no provider is enabled: set a <NAME>_API_KEY or start Ollama')
}

if (import.meta.main) await start()
