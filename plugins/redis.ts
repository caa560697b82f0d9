// Decorates `app.redis`: an ioredis client when REDIS_URL is set, else undefined (every
// feature that can share state through Redis falls back to memory). Quits on close.
//
// Every command has a deadline (REDIS_TIMEOUT_MS, issue 9 item 12): a Redis that hangs (the
// process stopped, a blackholed network) or is gone costs a request at most that, and the
// callers decide what a failure means — rate limiting fails open, sessions answer 503. No
// offline queue: while disconnected a command fails at once instead of waiting in a queue
// (and running late, after its caller gave up). Once two commands in a row timed out, Redis is
// presumed hung for REDIS_HUNG_FAIL_FAST_MS: commands fail at once meanwhile (the requests
// behind pay nothing), and the first one after that window probes again. One timeout alone
// arms nothing: a process starved of CPU can see one spurious timeout.
// Reconnects on its own, quickly, so everything recovers when Redis returns.
// ioredis is imported only when REDIS_URL is set: a gateway without Redis does not pay its
// memory (issue 14); everything else imports only its types.
import fp from 'fastify-plugin'
import type { Redis, Command } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | undefined
  }
}

/** Connecting (TCP + handshake) may take longer than one command; this is its floor. */
export const MIN_REDIS_CONNECT_TIMEOUT_MS = 1_000
/** Reconnect back-off: 50 ms, 100 ms, … capped here, so a returning Redis is used within a second. */
export const MAX_REDIS_RECONNECT_DELAY_MS = 1_000

/** After two timeouts in a row, commands fail at once for this long; then one probes again. */
export const REDIS_HUNG_FAIL_FAST_MS = 1_000
const TIMEOUTS_TO_PRESUME_HUNG = 2

/**
 * Wraps `sendCommand` (every command, script and pipeline goes through it), so that a hung
 * Redis costs one REDIS_TIMEOUT_MS per window instead of one per call. A command failed here
 * was never written, so no late reply can be matched to the wrong command.
 */
export function failFastWhileHung(client: Redis, timeoutMs: number, windowMs = REDIS_HUNG_FAIL_FAST_MS): void {
  let hungUntil = 0
  let timeoutsInARow = 0
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
    if (Date.now() < hungUntil) {
      command.reject(new Error(`redis did not answer within ${timeoutMs} ms a moment ago; failing fast`))
      return command.promise
    }
    const result = send(command, stream)
    command.promise.then(() => { timeoutsInARow = 0 }, (err: Error) => {
      if (err?.message !== 'Command timed out') return
      if (++timeoutsInARow >= TIMEOUTS_TO_PRESUME_HUNG) hungUntil = Date.now() + windowMs
    })
    return result
  }
}

export function redisOptions(timeoutMs: number) {
  return {
    connectionName: 'tiergate',
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, MIN_REDIS_CONNECT_TIMEOUT_MS),
    enableOfflineQueue: false,
    // A command in flight when the connection drops fails instead of being replayed later.
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(attempt * 50, MAX_REDIS_RECONNECT_DELAY_MS),
  }
}

export default fp(async function redis(app) {
  const url = app.config.redisUrl
  if (!url) {
    app.decorate('redis', undefined)
    return
  }
  const options = redisOptions(app.config.redisTimeoutMs)
  const { Redis } = await import('ioredis')
  const client = new Redis(url, options)
  failFastWhileHung(client, app.config.redisTimeoutMs)
  client.on('error', (err) => app.log.warn({ err: err.message }, 'redis error'))
  app.decorate('redis', client)
  app.addHook('onClose', async () => {
    await client.quit().catch(() => client.disconnect())
  })
  // Without an offline queue, commands sent before the first connection would fail: give it
  // one connect timeout at start-up, then start anyway (Redis down is a degraded mode, not fatal).
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, options.connectTimeout)
    client.once('ready', done)
  })
  if (client.status !== 'ready') app.log.warn({ status: client.status }, 'redis is not reachable at start-up; features that use it degrade until it is')
}, { name: 'redis' })
