// Child processes of a benchmark run and what they cost: every server (upstream, bare proxy,
// tiergate) runs in its own process, so its CPU time and memory can be read from /proc alone,
// apart from the load generator's.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'

const here = new URL('..', import.meta.url).pathname
/** Kernel clock ticks per second (`getconf CLK_TCK`): 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_S = 100
const PAGE_KB = 4

export interface Server {
  child: ChildProcess
  port: number
  pid: number
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Forks one of bench/'s servers; it reports its port over IPC once it listens. */
export async function startChild(script: string, env: Record<string, string> = {}): Promise<Server> {
  const child = fork(`${here}${script}`, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [message] = (await once(child, 'message')) as [{ port: number }]
  return { child, port: message.port, pid: child.pid! }
}

/**
 * How the server is run in production: the node flags of package.json's start script (which the
 * Dockerfile's CMD repeats), and Node's compile cache, which the image warms at build time
 * (Dockerfile: NODE_COMPILE_CACHE) — here in node_modules/.cache, warmed by the first start.
 * `--env-file-if-exists` is left out: a benchmark must not read the developer's .env.
 * BENCH_NODE_FLAGS replaces the flags, NODE_COMPILE_CACHE (set for the bench) replaces the cache
 * directory and BENCH_NO_COMPILE_CACHE=1 drops it, to measure what each one buys.
 */
export function startCommand(): { env: Record<string, string>; flags: string[] } {
  const script: string = JSON.parse(readFileSync(`${here}../package.json`, 'utf8')).scripts.start
  const words = script.trim().split(/\s+/)
  const env: Record<string, string> = { NODE_COMPILE_CACHE: new URL('../../node_modules/.cache/tiergate-compile', import.meta.url).pathname }
  let i = 0
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]); i++) {
    const [name, ...value] = words[i].split('=')
    env[name] = value.join('=')
  }
  let flags = words.slice(i + 1).filter((w) => w.startsWith('--') && !w.startsWith('--env-file'))
  if (process.env.BENCH_NODE_FLAGS !== undefined) flags = process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean)
  if (process.env.NODE_COMPILE_CACHE) env.NODE_COMPILE_CACHE = process.env.NODE_COMPILE_CACHE
  if (process.env.BENCH_NO_COMPILE_CACHE === '1') delete env.NODE_COMPILE_CACHE
  return { env, flags }
}

/**
 * The gateway exactly as users run it (`npm start`), with a benchmark environment; `dir`: another
 * tree's (a `git worktree` of the commit before a change, for bench/trees.ts); `script`: another
 * entry point of that tree started the same way (bench/core-floor.ts).
 */
export async function startGateway(env: Record<string, string>, dir = `${here}..`, script = 'server.ts'): Promise<Server & { flags: string[] }> {
  const port = await freePort()
  const start = startCommand()
  const child = fork(`${dir}/${script}`, {
    cwd: dir,
    execArgv: start.flags,
    env: {
      PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn',
      PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations,local', MODELS_REFRESH_MS: '0', RATE_LIMIT_MAX: '0',
      ...start.env,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { child, port, pid: child.pid!, flags: [...Object.entries(start.env).map(([k, v]) => `${k}=${v}`), ...start.flags] }
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill()
  throw new Error(`the gateway did not start (${JSON.stringify(env)})`)
}

export async function stop(...servers: Array<Server | undefined>): Promise<void> {
  await Promise.all(servers.filter((s): s is Server => s !== undefined && s.child.exitCode === null).map(async (s) => {
    s.child.kill('SIGTERM')
    const exited = once(s.child, 'exit')
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }))
}

/** User + system CPU time of a process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1_000_000) / CLOCK_TICKS_PER_S
}

/** Resident set size of a process now, in MB (MiB). */
export function rssMb(pid: number): number {
  const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')
  return (Number(statm[1]) * PAGE_KB) / 1024
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
