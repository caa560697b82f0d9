// node bench/profile-diff.ts <a.cpuprofile> <requests in a> <b.cpuprofile> <requests in b> [N] [--by-place]
// — two CPU profiles of the same load on two servers (the bare proxy and tiergate, the core
// floor and tiergate, a tree before and after a change), each function's self time divided by
// the requests its server answered: the N functions whose µs per request grew most from a to b,
// with both values. Idle time is left out. Dividing by requests, not comparing percentages, is
// what shows a function that got slower per call while every share moved (the eleventh pass's
// `nextTick`, README). `--by-place` groups by package or folder instead. See bench/README.md.
import { IDLE, selfTimes } from './lib/cpu-profile.ts'

const args = process.argv.slice(2)
const byPlace = args.includes('--by-place')
const [fileA, requestsA, fileB, requestsB, topArg] = args.filter((a) => a !== '--by-place')
if (!fileA || !fileB || !(Number(requestsA) > 0) || !(Number(requestsB) > 0)) {
  console.error('usage: node bench/profile-diff.ts <a.cpuprofile> <requests in a> <b.cpuprofile> <requests in b> [N] [--by-place]')
  process.exit(2)
}
const top = Number(topArg ?? 30)

function perRequest(file: string, requests: number) {
  const times = selfTimes(file)
  const rows = new Map<string, number>()
  for (const [key, us] of byPlace ? times.byPlace : times.byFunction) if (key !== IDLE) rows.set(key, us / requests)
  return { rows, workUs: (times.totalUs - times.idleUs) / requests }
}
const a = perRequest(fileA, Number(requestsA))
const b = perRequest(fileB, Number(requestsB))
const keys = new Set([...a.rows.keys(), ...b.rows.keys()])
const rows = [...keys].map((key) => ({ key, a: a.rows.get(key) ?? 0, b: b.rows.get(key) ?? 0 })).sort((x, y) => (y.b - y.a) - (x.b - x.a))

const cell = (us: number) => us.toFixed(2).padStart(8)
console.log(`work per request (µs, idle left out): a ${a.workUs.toFixed(1)}, b ${b.workUs.toFixed(1)}\n`)
console.log(`${'b − a'.padStart(8)}${'a'.padStart(8)}${'b'.padStart(8)}  ${byPlace ? 'package or file' : 'function'}`)
for (const row of rows.slice(0, top)) console.log(`${cell(row.b - row.a)}${cell(row.a)}${cell(row.b)}  ${row.key}`)
