// Shared upstream I/O, one concern per file: the transport (pools, requests, bounded JSON
// bodies), error decoding, SSE framing, NDJSON framing, and the read caps they share.
// Adapters never touch sockets themselves; they call UpstreamHttp with their CallContext.
export type { BatchReader, BodyStream, UpstreamRequest, UpstreamResponse } from './types.ts'
export { UpstreamHttp, readBounded, serializeRequest } from './transport.ts'
export { errorFromResponse, readText, upstreamErrorMessage } from './errors.ts'
export { READ_BYTES, sseEventBatches, sseEvents, type EventBatch } from './sse.ts'
export { ndjsonBatches, ndjsonObjects } from './ndjson.ts'
export { DEFAULT_UPSTREAM_LIMITS, limitsOf, type UpstreamLimits } from './limits.ts'
