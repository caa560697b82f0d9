// node bench/profile-top.ts <file.cpuprofile> [N] — the N functions with the most self time in a
// V8 CPU profile (as written by `node --cpu-prof`), and the same grouped by package or folder,
// so the largest costs of a benchmark run can be read without a browser. See bench/README.md.
import { selfTimes } from './lib/cpu-profile.ts'

const [file, topArg] = process.argv.slice(2)
if (!file) {
  console.error('usage: node bench/profile-top.ts <file.cpuprofile> [N]')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const { totalUs, byFunction, byPlace } = selfTimes(file)

const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1).padStart(5)} %`
console.log(`${(totalUs / 1000).toFixed(0)} ms sampled\n\nby function (self time):`)
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`)
console.log('\nby package or file:')
for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${place}`)
