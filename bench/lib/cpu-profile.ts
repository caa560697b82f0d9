// Reading a V8 CPU profile (as `node --cpu-prof` writes it): self time per function and per
// package or folder. Shared by bench/profile-top.ts and bench/profile-diff.ts.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Where a frame's code lives: the package under node_modules, a `node:` module, or the project's folder/file. */
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

/** The key of time the process waited, in both maps: not work. */
export const IDLE = '(idle)'

export interface SelfTimes {
  /** µs sampled in all, `(idle)` included. */
  totalUs: number
  /** µs the process waited (`(idle)`): not work. */
  idleUs: number
  byFunction: Map<string, number>
  byPlace: Map<string, number>
}

/** Self time (µs) by function (`name  place:line`) and by package or file. */
export function selfTimes(file: string): SelfTimes {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  // Self time per node: each sample's delta belongs to the node sampled.
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const byFunction = new Map<string, number>()
  const byPlace = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (!us) continue
    totalUs += us
    const { functionName, url, lineNumber } = node.callFrame
    const idle = functionName === IDLE
    if (idle) idleUs += us
    const name = idle ? IDLE : `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const place = idle ? IDLE : url ? where(url) : `(native) ${functionName}`
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
  }
  return { totalUs, idleUs, byFunction, byPlace }
}
