// How deep parsed JSON nests, and JSON from upstreams bounded by it. V8's JSON.parse is
// iterative and takes any depth; nearly everything after it recurses: JSON.stringify (the
// response serializer, the secret scrubber, sessions, the cache, the responses store), the
// dialect encoders. A 200,000-deep field in an upstream's answer made the gateway answer
// 500 internal_error instead of asking the next provider (issue 9's hostile upstream).
import { UpstreamError } from './upstream-error.ts'

/**
 * Deeper than this, JSON from an upstream is malformed. Real answers nest a handful of levels;
 * a tool's input mirrors a client's schema, and client bodies stop at BODY_MAX_DEPTH (64).
 */
export const UPSTREAM_MAX_JSON_DEPTH = 128

/** True when `value` nests objects/arrays deeper than `max` (a flat object is depth 1). Iterative. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  const stack: Array<[object, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (depth > max) return true
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}

/**
 * JSON.parse for upstream text: its SyntaxError as it is (callers word their own "invalid JSON"),
 * an UpstreamError (malformed) past UPSTREAM_MAX_JSON_DEPTH.
 */
export function parseUpstreamJson<T = any>(text: string): T {
  const value = JSON.parse(text)
  if (nestsDeeperThan(value, UPSTREAM_MAX_JSON_DEPTH)) throw new UpstreamError('malformed', `JSON from upstream nests deeper than ${UPSTREAM_MAX_JSON_DEPTH} levels`)
  return value as T
}
