// Whether a catalog lists a model, asked for every provider on every request (the router's
// candidate list). `includes` scans the whole catalog each time: OpenRouter lists ~400 models and
// a discovered catalog may hold up to MAX_CATALOG_MODELS (10,000: an upstream's choice, not
// ours), so the cost of every request grew with what the upstreams listed (issue 14). Each
// catalog array gets a Set once, the first time it is asked about; a provider's models() hands
// out the same array while its catalog is unchanged (the Provider contract), and a changed
// catalog is a new array, so a Set is never stale. Held weakly: a replaced catalog's Set goes with it.

/** Shorter catalogs are scanned: a scan of a few strings costs less than the map lookup. */
export const SCAN_BELOW = 16

const indexes = new WeakMap<readonly string[], Set<string>>()

export function catalogHas(catalog: readonly string[], model: string): boolean {
  if (catalog.length < SCAN_BELOW) return catalog.includes(model)
  let index = indexes.get(catalog)
  if (index === undefined) {
    index = new Set(catalog)
    indexes.set(catalog, index)
  }
  return index.has(model)
}
