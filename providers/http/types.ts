// The shapes shared by the upstream I/O modules.
import type { Dispatcher } from 'undici'

export type BodyStream = Dispatcher.ResponseData['body']

export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: BodyStream
}

export interface UpstreamRequest {
  url: string
  method?: 'GET' | 'POST' | 'HEAD'
  headers?: Record<string, string>
  /** Serialized as JSON. */
  json?: unknown
  /** What a successful answer must be: checked against Content-Type. */
  expect: 'json' | 'sse' | 'ndjson' | 'any'
}

/** What a framing reader (SSE, NDJSON) hands out: batches, one step at a time, and a `return()` that closes the body. */
export interface BatchReader<B> extends AsyncIterableIterator<B, undefined> {
  return(value?: undefined): Promise<IteratorResult<B, undefined>>
}
