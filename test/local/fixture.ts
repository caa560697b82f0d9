// The tiny generated GGUF model (test/setup/tiny-gguf.ts) written to a fresh temporary folder
// for one test file, and a gateway that serves it as provider `local`.
import type { Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeTinyGguf } from '../setup/tiny-gguf.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

/** Writes `<name>.gguf` into a folder removed when the test ends. */
export function tinyModelFile(t: Test, name = 'tiny', options: Parameters<typeof writeTinyGguf>[1] = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-local-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return writeTinyGguf(join(dir, `${name}.gguf`), options)
}

/** CPU only and one thread: the tests must not compete with each other for cores. */
export const LOCAL_TEST_ENV = { LOCAL_GPU: 'false', LOCAL_THREADS: '1' }

export async function startLocalGateway(t: Test, env: Record<string, string> = {}, file?: string): Promise<Gateway & { modelPath: string }> {
  const modelPath = file ?? tinyModelFile(t)
  const gw = await startGateway({ ...LOCAL_TEST_ENV, LOCAL_MODEL_PATH: modelPath, ...env })
  t.teardown(async () => {
    // A stream aborted while another request waited in the queue leaves its server-side
    // connection open for ~70 s (keep-alive; see the report): cut it as the grace period would.
    const closing = gw.close()
    gw.app.server.closeAllConnections()
    await closing
  })
  return Object.assign(gw, { modelPath })
}

/** The local provider's entry in GET /providers. */
export async function localStatus(gw: Gateway): Promise<any> {
  const res = await fetch(`${gw.url}/providers`)
  const body = await res.json() as { providers: Array<{ name: string; details: any }> }
  return body.providers.find((p) => p.name === 'local')
}
