// node bench/profile-top.ts <file.cpuprofile> [N] — the N functions with the most self time in a
// V8 CPU profile (as written by `node --cpu-prof`), and the same grouped by package or folder,
// so the largest costs of a benchmark run can be read without a browser. See bench/README.md.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  console.error('usage: node bench/profile-top.ts <file.cpuprofile> [N]')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

// Self time per node: each sample's delta belongs to the node sampled.
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)

function where(url: string): string {
  if (!url) return '(native / V8)'
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return url
  const project = url.replace(/^file:\/\//, '').split('/')
  return project.slice(-2).join('/')
}

const byFunction = new Map<string, number>()
const byPlace = new Map<string, number>()
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0
  if (!us) continue
  const { functionName, url, lineNumber } = node.callFrame
  const name = `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + us)
  const place = where(url)
  byPlace.set(place, (byPlace.get(place) ?? 0) + us)
}

const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1).padStart(5)} %`
console.log(`${(totalUs / 1000).toFixed(0)} ms sampled\n\nby function (self time):`)
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`)
console.log('\nby package or file:')
for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${place}`)
