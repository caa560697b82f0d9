// Kept so that existing imports of './http.ts' keep working: the upstream I/O lives in
// providers/http/ (transport, error decoding, SSE and NDJSON framing, read caps).
export * from './http/index.ts'
