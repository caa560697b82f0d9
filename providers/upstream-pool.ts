// An undici Pool for one upstream origin that does not reconnect for requests nobody waits for.
//
// undici (7.x, and 8.x until nodejs/undici#5846 lands) has a bug, nodejs/undici#5845: when a
// request is aborted, the socket is destroyed with an "informational" error, the aborted
// request goes back to the client's pending queue, and the client opens a NEW connection for
// it, only to drop the request once connected. Every aborted upstream call (a client that
// left, a first-byte, idle or total timeout) would leave one idle, never-used connection to
// the upstream for up to the keep-alive timeout. The factory below counts, per client, the
// requests not yet completed or failed, and its connector refuses to connect a client that
// has none: the client then drops its (already aborted) queue, the pool discards the client,
// and the next real request gets a fresh one.
import type { Dispatcher, Pool as UndiciPool } from 'undici'
import { Client, Pool } from './undici-core.ts'

const KEEP_ALIVE_TIMEOUT_MS = 10_000

/** undici's connector signature (the built one is a function under `opts.connect`). */
type Connector = (options: unknown, callback: (err: Error | null, socket: unknown) => void) => void

class NothingToSendError extends Error {
  readonly code = 'TIERGATE_NOTHING_TO_SEND' // not UND_ERR_INFO/UND_ERR_SOCKET: undici flushes the queue on it
  constructor() {
    super('connection skipped: every request of this client was aborted')
  }
}

const SETTLING = ['onComplete', 'onError', 'onResponseEnd', 'onResponseError'] as const

/**
 * The same handler, calling `settle` once the request completed or failed (aborts included).
 * Its settling methods are wrapped on the handler itself (own properties over its prototype's),
 * so `this` stays the handler and every other property is read as before — a Proxy did the same
 * with a trap on each of undici's property reads, ~1.5 % of a request's CPU (issue 14).
 */
function settlingHandler(handler: Dispatcher.DispatchHandler, settle: () => void): Dispatcher.DispatchHandler {
  const methods = handler as unknown as Record<string, unknown>
  for (const name of SETTLING) {
    const original = methods[name]
    if (typeof original !== 'function') continue
    methods[name] = (...args: unknown[]) => {
      settle()
      return original.apply(handler, args)
    }
  }
  return handler
}

function clientFactory(origin: string | URL, options: object): Dispatcher {
  const connect = (options as { connect: Connector }).connect
  let live = 0
  const client = new Client(origin, {
    ...options,
    connect: ((connectOptions: unknown, callback: (err: Error | null, socket: unknown) => void) => {
      if (live === 0) return callback(new NothingToSendError(), null)
      connect(connectOptions, callback)
    }) as never,
  })
  const dispatch = client.dispatch.bind(client)
  client.dispatch = (opts, handler) => {
    live++
    let settled = false
    return dispatch(opts, settlingHandler(handler, () => {
      if (settled) return
      settled = true
      live--
    }))
  }
  return client
}

export function createUpstreamPool(origin: string, connectTimeoutMs: number): UndiciPool {
  return new Pool(origin, { connect: { timeout: connectTimeoutMs }, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, factory: clientFactory })
}
