// Starts tiergate on a real port with the given environment (never process.env), captures
// its log lines, and hands out an official OpenAI SDK client pointed at it.
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import type { FastifyInstance } from 'fastify'
import { buildServer } from '../../server.ts'
import { loadConfig } from '../../config.ts'

export interface Gateway {
  app: FastifyInstance
  /** http://127.0.0.1:port */
  url: string
  /** An OpenAI SDK client on {url}/v1 with SDK retries off (the gateway does the retrying). */
  client: OpenAI
  logs: string[]
  close(): Promise<void>
}

/** Quiet, fast defaults for tests: no discovery loop, no keyless providers unless asked. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  PORT: '0',
  MODELS_REFRESH_MS: '0',
  PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations',
}

export async function startGateway(env: Record<string, string>, options: { apiKey?: string } = {}): Promise<Gateway> {
  const logs: string[] = []
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      callback()
    },
  })
  const config = loadConfig({ ...TEST_ENV, ...env })
  const app = await buildServer(config, { logStream })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'unused', maxRetries: 0, timeout: 20_000 })
  return { app, url, client, logs, close: () => app.close() }
}

/** POST JSON with fetch, for what the SDK hides (raw status, headers, bodies). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}

/** Read an SSE response into its `data:` payloads (strings), in order. */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text()
  return text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
}
