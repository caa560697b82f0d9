// Time to first byte at concurrency 1: sequential requests over one keep-alive connection,
// the time from sending the request to the first byte of the response body (for a stream, the
// first SSE frame). What a gateway adds to a user's perceived latency.
import { Client } from 'undici'
import { median } from './procs.ts'

export async function ttfbMs(origin: string, path: string, body: string, requests: number, headers: Record<string, string> = {}): Promise<number> {
  const client = new Client(origin, { keepAliveTimeout: 60_000 })
  const samples: number[] = []
  try {
    for (let i = 0; i < requests; i++) {
      const started = performance.now()
      const response = await client.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
      let first = true
      for await (const _chunk of response.body) {
        if (first) {
          samples.push(performance.now() - started)
          first = false
        }
      }
    }
  } finally {
    await client.close()
  }
  return median(samples)
}
