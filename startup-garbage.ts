// The collection the gateway runs once it is listening, before any traffic (server.ts).
//
// Start-up (a thousand modules loaded, schemas compiled) grows V8's young generation to its
// maximum, 2 × --max-semi-space-size, and leaves garbage that nothing collects while the gateway
// idles (V8's memory reducer waits for a low allocation rate it does not see). One
// memory-reducing collection returns ~30 MB of RSS (idle 130 → 100 MB); under load the young
// generation grows back. A memory-reducing collection also sets the old generation's next limit
// barely above what is live, so that the first seconds of load ran full collections back to
// back (+10-20 % CPU per request in bench/flags.ts): one ordinary collection after it sets the
// limit as usual. Both take ~30 ms. Needs --expose-gc (npm start and the Dockerfile pass it);
// without it, nothing happens.

export type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor?: 'last-resort' }) => void

/** `gc` of --expose-gc, when the process runs with it. */
export const exposedGc = (): GcFunction | undefined => (globalThis as { gc?: GcFunction }).gc

/**
 * Queued across the collection and run right after it; it does nothing else. Queued with two
 * arguments, as the HTTP streams queue most of theirs: the form that was measured.
 */
const keepTickShapeAlive = (_first: unknown, _second: unknown) => {}

/**
 * A memory-reducing (last-resort) collection clears map transitions that no live object uses.
 * With no `process.nextTick` queued at that moment, it cleared the ones of Node's tick object
 * (`{[async_id_symbol], [trigger_async_id_symbol], [async_context_frame], callback, args}`, a
 * literal with computed keys), and from then on every nextTick defined those keys in the V8
 * runtime (Runtime_DefineKeyedOwnPropertyInLiteral, with a map migration): 1.5–2.2 µs a call
 * instead of ~0.45, 13 calls per non-streamed request, ~15 µs and ~10 % of its CPU for the life
 * of the process (issue 14; found with `perf`, measured in README's eleventh pass).
 * One tick queued across the collection is a live object of that shape: its transitions stay.
 */
export function collectStartupGarbage(gc: GcFunction | undefined): void {
  if (gc === undefined) return
  process.nextTick(keepTickShapeAlive, undefined, undefined)
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  gc({ type: 'major', execution: 'sync' })
}
