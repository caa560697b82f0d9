// Bounds on a catalog an upstream reports (GET /models, /api/tags, Anthropic's /v1/models):
// a hostile or broken upstream must not make the gateway hold, list and match against
// megabytes of model names (issue 9: a body is capped at UPSTREAM_MAX_BODY_BYTES, 32 MiB, which
// is a million ids). No real catalog comes near either bound: OpenRouter lists ~400 models, and
// the longest real id is well under 100 characters.

/** Longer ids are dropped: no client could have asked for one, and each is listed and logged. */
export const MAX_MODEL_ID_CHARS = 256
/** The first this many distinct ids are kept. */
export const MAX_CATALOG_MODELS = 10_000

/** The ids to keep, in the upstream's order: non-empty, at most 256 characters, no control characters, each once, at most 10,000. */
export function boundedCatalog(ids: readonly string[]): string[] {
  const kept = new Set<string>()
  for (const id of ids) {
    if (kept.size === MAX_CATALOG_MODELS) break
    // eslint-disable-next-line no-control-regex
    if (id.length === 0 || id.length > MAX_MODEL_ID_CHARS || /[\u0000-\u001f\u007f]/.test(id)) continue
    kept.add(id)
  }
  return [...kept]
}
