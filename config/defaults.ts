// Every general default, named, with its unit in the name (DESIGN convention 7). config.ts
// re-exports them: importers keep importing from config.ts.
export const DEFAULT_PORT = 8080
export const DEFAULT_BODY_LIMIT_BYTES = 20 * 1024 * 1024 // a few base64 images fit
export const DEFAULT_BREAKER_RESET_MS = 30_000
export const DEFAULT_BREAKER_ROLLING_WINDOW_MS = 10_000
export const DEFAULT_MODELS_REFRESH_MS = 600_000
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 5_000
/** While a provider is unreachable, discovery retries after this, doubling up to the max. */
export const DEFAULT_DISCOVERY_RETRY_MIN_MS = 2_000
export const DEFAULT_DISCOVERY_RETRY_MAX_MS = 60_000
/** A request for an unknown model refreshes a provider at most this often. */
export const DEFAULT_DISCOVERY_ON_DEMAND_INTERVAL_MS = 10_000
export const DEFAULT_TIMEOUT_CONNECT_MS = 5_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MS = 60_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS = 2_000
export const DEFAULT_TIMEOUT_IDLE_MS = 30_000
export const DEFAULT_TIMEOUT_TOTAL_MS = 600_000
/** Hedged first tokens: off (0) by default — a hedge can double the cost of slow requests. */
export const DEFAULT_HEDGE_FIRST_BYTE_MS = 0
export const DEFAULT_KEY_AUTH_COOLDOWN_MS = 3_600_000
export const DEFAULT_MAX_COOLDOWN_WAIT_MS = 5_000
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
// Upstream limits (issue 9 items 6, 9, 10).
/** One SSE event or NDJSON line from an upstream; a real chunk is a few KB, a big tool call < 1 MB. */
export const DEFAULT_UPSTREAM_MAX_EVENT_BYTES = 4 * 1024 * 1024
/** One JSON answer from an upstream (a long completion is well under 1 MB). */
export const DEFAULT_UPSTREAM_MAX_BODY_BYTES = 32 * 1024 * 1024
// A whole streamed answer: ~250,000 OpenAI chunks of ~270 bytes, above any model's longest output.
export const DEFAULT_UPSTREAM_MAX_STREAM_BYTES = 64 * 1024 * 1024
/** The longest an upstream's retry-after may cool a key (and the Retry-After tiergate returns). */
export const DEFAULT_MAX_KEY_COOLDOWN_MS = 3_600_000
/** Nesting depth of a request body (objects and arrays); a JSON Schema nests ~10 deep. */
export const DEFAULT_BODY_MAX_DEPTH = 64
export const DEFAULT_SESSION_TTL_MS = 86_400_000
// Hardening (issue 9 items 11–14).
/** Time to receive a whole request (headers and body); never limits the response, so never a stream. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
/** Socket inactivity limit: above TIMEOUT_TOTAL_MS's default, so a slow JSON answer is never cut. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 660_000
export const DEFAULT_AUTH_FAILURE_LIMIT = 30
export const DEFAULT_REDIS_TIMEOUT_MS = 200
export const DEFAULT_SESSION_MAX_BYTES = 1024 * 1024
/** Stored responses live as long as OpenAI keeps them (30 days). */
export const DEFAULT_RESPONSES_TTL_MS = 2_592_000_000
export const DEFAULT_RESPONSES_MAX_COUNT = 10_000
export const DEFAULT_RESPONSES_MAX_BYTES = 64 * 1024 * 1024
/** A committed /v1/messages stream silent this long gets an Anthropic `ping` event. */
export const DEFAULT_MESSAGES_PING_INTERVAL_MS = 10_000
export const DEFAULT_UNKNOWN_PROVIDER_TIER = 10
// Fleet (issue 13): response cache, coalescing, affinity, traces.
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
/** How long an instance waits for another instance's identical call (and that call's lock TTL). */
export const DEFAULT_CACHE_LOCK_WAIT_MS = 5_000
/** The longest provider prompt-cache lifetime (Anthropic's extended TTL, OpenAI's retention). */
export const DEFAULT_AFFINITY_TTL_MS = 3_600_000
