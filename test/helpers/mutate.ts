// Seeded structural mutation of JSON values, for the fuzz tests (test/hardening/*-fuzz.test.ts):
// the same seed gives the same cases on every run, so a failure can be replayed.

/** A small linear congruential generator: deterministic, and enough to pick mutations. */
export function seededRandom(seed: number): () => number {
  let state = seed
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

/** Values that break assumptions: wrong types, extremes, empties, control characters. */
const ODD_VALUES: unknown[] = [null, 0, -1, 1e308, 2 ** 53, 'x', '', [], {}, [null], { a: 1 }, true, 'x'.repeat(3000), [{}], { type: 'nope' }, '\u0000', -0.5, 'sk-']

/** A copy of `value` with some nodes replaced by odd values, some keys dropped, some added. */
export function mutate(value: unknown, random: () => number, extraKeys: string[] = [], depth = 0): unknown {
  const pick = <T>(options: T[]) => options[Math.floor(random() * options.length)]
  if (value === null || typeof value !== 'object' || random() < 0.12) return random() < 0.5 && depth > 0 ? pick(ODD_VALUES) : value
  if (Array.isArray(value)) {
    const copy = value.map((v) => (random() < 0.3 ? mutate(v, random, extraKeys, depth + 1) : v))
    if (random() < 0.1) copy.push(pick(ODD_VALUES))
    return copy
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const key of Object.keys(copy)) if (random() < 0.25) copy[key] = mutate(copy[key], random, extraKeys, depth + 1)
  if (random() < 0.1 && Object.keys(copy).length > 0) delete copy[pick(Object.keys(copy))]
  if (random() < 0.1 && extraKeys.length > 0) copy[pick(extraKeys)] = pick(ODD_VALUES)
  return copy
}
