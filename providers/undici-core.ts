// undici's Pool, Client and errors without its root module. `import 'undici'` loads all of
// undici — fetch, WebSocket, EventSource, the cache stores, cookies (whose `globalThis.Headers`
// makes Node load its own bundled copy of undici as well) — ~6 MB of idle RSS for parts tiergate
// never uses. These are the files the root module re-exports (undici has no `exports` map, so
// they are public paths); the root module also attaches the request API (`dispatcher.request()`)
// to Dispatcher.prototype, so that is done here too. Types still come from 'undici'.
import { createRequire } from 'node:module'
import type * as Undici from 'undici'

const require = createRequire(import.meta.url)

export const Pool: typeof Undici.Pool = require('undici/lib/dispatcher/pool.js')
export const Client: typeof Undici.Client = require('undici/lib/dispatcher/client.js')
export const errors: typeof Undici.errors = require('undici/lib/core/errors.js')

Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'))
