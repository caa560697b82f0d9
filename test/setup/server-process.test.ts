// test/helpers/server-process.ts: a port taken between the pick and the child's bind is retried
// on another; any other early exit fails at once with what the child printed.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { freePort } from '../mocks/server.ts'
import { startServerProcess } from '../helpers/server-process.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const env = (port: number) => ({ PATH: process.env.PATH!, HOST: '127.0.0.1', PORT: String(port), PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn' })

t.test('a port someone else took first: started again on another', async (t) => {
  const squatter = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => squatter.once('listening', r))
  t.teardown(() => { squatter.close() })
  const taken = (squatter.address() as AddressInfo).port
  const picked: number[] = []
  const pickPort = async () => {
    const port = picked.length === 0 ? taken : await freePort()
    picked.push(port)
    return port
  }
  const server = await startServerProcess({ args: ['server.ts'], cwd: ROOT, env, pickPort })
  t.teardown(() => { server.child.kill('SIGKILL') })
  t.equal(picked.length, 2, 'a second port was picked')
  t.equal(server.port, picked[1])
  t.ok((await fetch(`http://127.0.0.1:${server.port}/health`)).ok)
})

t.test('any other early exit fails at once, with the output', async (t) => {
  const started = Date.now()
  await t.rejects(startServerProcess({ args: ['server.ts'], cwd: ROOT, env: (port) => ({ ...env(port), PORT: 'not-a-port' }) }), /exited \(code 1[\s\S]*PORT/)
  t.ok(Date.now() - started < 10_000, 'without waiting for the start timeout')
})
