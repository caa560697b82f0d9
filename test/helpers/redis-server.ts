// A throwaway real redis-server for tests: a free port on 127.0.0.1, no persistence, killed
// on close. Needs the redis-server binary (apt package redis-server; .ci/run installs it).
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort } from '../mocks/server.ts'

export interface RedisServer {
  url: string
  port: number
  close(): Promise<void>
}


const START_TIMEOUT_MS = 10_000

/** `port`: a given one (to bring Redis back where a gateway expects it); a free one by default. */
export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS)
    const onData = (data: Buffer) => {
      output += data.toString('utf8')
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', (err) => { clearTimeout(timer); reject(err) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}:\n${output}`)) })
  })
  child.stdout.resume()
  child.stderr.resume()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** The redis-server process's pid, from its INFO (what a test stops or kills to script an outage). */
export async function redisPid(url: string): Promise<number> {
  const inspector = new Redis(url)
  try {
    return Number(/process_id:(\d+)/.exec(await inspector.info('server'))![1])
  } finally {
    inspector.disconnect()
  }
}
