// `npm start` reads .env from the working directory (Node's --env-file-if-exists: no extra
// dependency), variables already set win over the file, and no .env is fine.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../mocks/server.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** Runs the start script's node command in `cwd`, with server.ts from the repository. */
function start(cwd: string, env: Record<string, string>) {
  const [command, ...args] = (pkg.scripts.start as string).split(' ')
  t.equal(command, 'node')
  const child = spawn(process.execPath, args.map((a) => (a === 'server.ts' ? join(ROOT, 'server.ts') : a)), { cwd, env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  return { child, output: () => output }
}

t.test('npm start reads .env; the environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-env-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  writeFileSync(join(dir, '.env'), `PORT=${port}\nHOST=127.0.0.1\nPROVIDERS_DISABLED=ollama,gpt4all,pollinations\nMODELS_REFRESH_MS=0\nRATE_LIMIT_MAX=7\nLOG_LEVEL=warn\n`)
  const server = start(dir, { RATE_LIMIT_MAX: '9' })
  t.teardown(() => { server.child.kill('SIGTERM') })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true, `the server on the port from .env (${server.output()})`, 15_000)
  const res = await fetch(`http://127.0.0.1:${port}/v1/models`)
  t.equal(res.headers.get('x-ratelimit-limit'), '9', 'a variable already set is not overridden by .env')
})

t.test('without a .env it starts on the defaults it is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-noenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const server = start(dir, { PORT: String(port), PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn' })
  t.teardown(() => { server.child.kill('SIGTERM') })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true, `the server without .env (${server.output()})`, 15_000)
  t.pass('started')
})
