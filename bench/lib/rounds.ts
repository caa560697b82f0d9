// Alternating CPU rounds for in-process benches (bench/layers.ts, bench/stream-floor.ts): every
// entry runs once per round, one after another, so a slow moment of the host falls on all of them.
import { median } from './procs.ts'

/** An entry runs for `ms` and says how many units (calls, streams) it completed. */
export type TimedRun = (ms: number) => Promise<number>

/** CPU µs per unit of each entry, one value per round. */
export async function cpuPerUnitRounds(entries: Array<[string, TimedRun]>, rounds: number, ms: number): Promise<Map<string, number[]>> {
  const perUnit = new Map<string, number[]>(entries.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of entries) {
      const before = process.cpuUsage()
      const units = await run(ms)
      const used = process.cpuUsage(before)
      perUnit.get(name)!.push((used.user + used.system) / units)
    }
  }
  return perUnit
}

/** `median (min–max)`, one decimal. */
export function medianRangeCell(values: number[]): string {
  return `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`
}

/** `+d` / `-d` with one decimal. */
export const signedDelta = (delta: number) => `${delta >= 0 ? '+' : ''}${delta.toFixed(1)}`
