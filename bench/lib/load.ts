// One measured load: autocannon against a server while its process's CPU time is read before
// and after, so the cost per request is the server's own, not the load generator's.
import autocannon from 'autocannon'
import { cpuMicros, rssMb, type Server } from './procs.ts'

export interface LoadOptions {
  path?: string
  body: string | (() => string)
  headers?: Record<string, string>
  connections: number
  durationS: number
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  failures: number
  total: number
  /** The server's CPU time (user + system) per completed request. */
  cpuUsPerRequest: number
  rssAfterMb: number
}

export async function measure(server: Server, options: LoadOptions): Promise<LoadResult> {
  const cpuBefore = cpuMicros(server.pid)
  const body = options.body
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${options.path ?? '/v1/chat/completions'}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(typeof body === 'string' ? { body } : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: body() }) }] }),
    connections: options.connections,
    duration: options.durationS,
  })
  const cpu = cpuMicros(server.pid) - cpuBefore
  const total = result.requests.total
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    total,
    cpuUsPerRequest: total > 0 ? cpu / total : NaN,
    rssAfterMb: rssMb(server.pid),
  }
}
