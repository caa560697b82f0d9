// Shared set-up of the Ollama tests: a mock local Ollama, the OpenAI mock as the remote
// backup, optionally an OpenAI mock as a next-tier provider, and the gateway between them.
import type { Test } from 'tap'
import { startOllamaMock, type OllamaMock } from '../mocks/ollama.ts'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

export interface OllamaSetup {
  local: OllamaMock
  remote: OpenAIMock
  backup: OpenAIMock
  gw: Gateway
}

export const REMOTE_MODELS = ['gpt-oss:120b', 'deepseek-v3.1:671b']

/**
 * The local server is reached through Ollama's own `OLLAMA_HOST=host:port` form. `backup`
 * is a custom provider at tier 5 (Ollama's default tier is 4) serving `llama3.2`.
 */
export async function ollamaSetup(t: Test, env: Record<string, string> = {}): Promise<OllamaSetup> {
  const local = await startOllamaMock()
  const remote = await startOpenAIMock({ models: REMOTE_MODELS })
  remote.fallback = { content: 'Hello from the remote backup' }
  const backup = await startOpenAIMock({ models: ['llama3.2', 'nomic-embed-text'] })
  backup.fallback = { content: 'Hello from the next tier' }
  const gw = await startGateway({
    // TEST_ENV turns the keyless providers off; these tests want Ollama on (and only it).
    PROVIDERS_DISABLED: 'gpt4all,pollinations',
    OLLAMA_HOST: local.origin.replace('http://', ''),
    OLLAMA_REMOTE_BASE_URL: remote.baseUrl,
    CUSTOM_PROVIDERS: 'backup',
    BACKUP_BASE_URL: backup.baseUrl,
    PROVIDER_PRIORITY_BACKUP: '5',
    ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await Promise.all([local.close(), remote.close(), backup.close()])
  })
  return { local, remote, backup, gw }
}

export async function modelIds(gw: Gateway): Promise<string[]> {
  const list = await gw.client.models.list()
  return list.data.map((m) => m.id)
}

export async function ollamaStatus(gw: Gateway): Promise<any> {
  const res = await fetch(`${gw.url}/providers`)
  const body = (await res.json()) as { providers: Array<{ name: string }> }
  return body.providers.find((p) => p.name === 'ollama')
}

