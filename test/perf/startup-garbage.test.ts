// The start-up collection (startup-garbage.ts, issue 14): a memory-reducing collection with no
// process.nextTick queued cleared the map transitions of Node's tick object, and every nextTick
// after it went through the V8 runtime (~15 µs per request for the life of the process, found
// with perf; the cost is measured in bench/, never here). Pinned here: the order — a tick is
// queued before the last-resort collection (so one object of the tick's shape is live during
// both collections), then an ordinary collection, and the tick runs once they are done.
import t from 'tap'
import { collectStartupGarbage, type GcFunction } from '../../startup-garbage.ts'

/** What happens, in order, while `run` runs: ticks queued, collections, ticks run. */
function recordTicks(run: (gc: GcFunction) => void): string[] {
  const events: string[] = []
  const nextTick = process.nextTick
  process.nextTick = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    events.push('tick queued')
    return nextTick(() => {
      events.push('tick ran')
      callback(...args)
    })
  }) as typeof process.nextTick
  try {
    run((options) => void events.push(`${options.flavor ?? 'ordinary'} collection`))
  } finally {
    process.nextTick = nextTick
  }
  return events
}

t.test('a tick stays queued across both collections, the memory-reducing one first', async (t) => {
  const events = recordTicks((gc) => collectStartupGarbage(gc))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, ['tick queued', 'last-resort collection', 'ordinary collection', 'tick ran'])
})

t.test('without --expose-gc nothing is collected and nothing is queued', async (t) => {
  const events = recordTicks(() => collectStartupGarbage(undefined))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, [])
})
