// `npm start` reads .env from the working directory (Node's --env-file-if-exists: no extra
// dependency), variables already set win over the file, and no .env is fine.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServerProcess } from '../helpers/server-process.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** The start script's node flags, with server.ts from the repository, run in `cwd`. */
function startArgs(): string[] {
  const [command, ...args] = (pkg.scripts.start as string).split(' ')
  t.equal(command, 'node')
  return args.map((a) => (a === 'server.ts' ? join(ROOT, 'server.ts') : a))
}

t.test('npm start reads .env; the environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-env-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const server = await startServerProcess({
    args: startArgs(),
    cwd: dir,
    env: (port) => {
      // The port comes from .env alone: a server found on it read the file.
      writeFileSync(join(dir, '.env'), `PORT=${port}\nHOST=127.0.0.1\nPROVIDERS_DISABLED=ollama,gpt4all,pollinations\nMODELS_REFRESH_MS=0\nRATE_LIMIT_MAX=7\nLOG_LEVEL=warn\n`)
      return { PATH: process.env.PATH!, RATE_LIMIT_MAX: '9' }
    },
  })
  t.teardown(() => { server.child.kill('SIGTERM') })
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/models`)
  t.equal(res.headers.get('x-ratelimit-limit'), '9', 'a variable already set is not overridden by .env')
})

t.test('without a .env it starts on the defaults it is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-noenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const server = await startServerProcess({
    args: startArgs(),
    cwd: dir,
    env: (port) => ({ PATH: process.env.PATH!, PORT: String(port), PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn' }),
  })
  t.teardown(() => { server.child.kill('SIGTERM') })
  t.pass('started')
})
