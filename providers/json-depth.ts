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
  // Two parallel stacks, no tuple per node, and arrays walked as they are: on a chat completion
  // 0.1–0.3 µs over its JSON.parse, against 0.8 µs with a tuple and an Object.values array per
  // node, and 3.5 µs with `for…in` (measured; this runs on every upstream JSON text).
  const nodes: object[] = [value]
  const depths: number[] = [1]
  while (nodes.length > 0) {
    const node = nodes.pop()!
    const depth = depths.pop()!
    if (depth > max) return true
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node)
    for (let i = 0; i < children.length; i++) {
      const child = children[i]
      if (typeof child === 'object' && child !== null) {
        nodes.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return false
}

/**
 * Every level of JSON text opens and closes a bracket: a text of at most 2 × max characters
 * cannot nest deeper than max, and needs no walk (most stream events are a few hundred bytes).
 */
const tooShortToNestDeeperThan = (text: string, max: number) => text.length <= 2 * max

/**
 * JSON.parse for upstream text: its SyntaxError as it is (callers word their own "invalid JSON"),
 * an UpstreamError (malformed) past UPSTREAM_MAX_JSON_DEPTH.
 */
export function parseUpstreamJson<T = any>(text: string): T {
  const value = JSON.parse(text)
  if (tooShortToNestDeeperThan(text, UPSTREAM_MAX_JSON_DEPTH)) return value as T
  if (nestsDeeperThan(value, UPSTREAM_MAX_JSON_DEPTH)) throw new UpstreamError('malformed', `JSON from upstream nests deeper than ${UPSTREAM_MAX_JSON_DEPTH} levels`)
  return value as T
}
