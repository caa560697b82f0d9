// Lookups of client- or upstream-supplied names in constant tables (issue 9 item 7): a plain
// object also "has" `constructor`, `toString`, `__proto__` — `reasoning_effort: "constructor"`
// once made Anthropic's max_tokens the string "4096function Object()…", and Ollama's
// `effort in THINK_LEVELS` accepted `toString`. Only the table's own keys count.
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined
}
