// Docker artifacts, checked the way a user meets them, without a Docker engine: the Dockerfile
// passes a real Dockerfile linter and has the shape the issue asks for; the files the build
// context admits, with production dependencies only, really start tiergate and pass the image's
// own HEALTHCHECK; `docker-compose config` accepts the compose file on a fresh clone after
// `cp .env.example .env`, and every variable it hands tiergate is one tiergate knows.
import t from 'tap'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'
import { validate } from 'dockerfile-utils'
import { ENV_VARIABLES, PROVIDER_VARIABLE, BUILTIN_PROVIDERS, loadConfig } from '../../config.ts'
import { startServerProcess } from '../helpers/server-process.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (file: string) => readFile(path.join(ROOT, file), 'utf8')

interface Instruction { keyword: string; args: string; stage: number }

/** Dockerfile → instructions (continuations joined, comments dropped), numbered by stage. */
function instructions(dockerfile: string): Instruction[] {
  const logical = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  let stage = -1
  return logical.map((line) => {
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line)!
    if (keyword.toUpperCase() === 'FROM') stage++
    return { keyword: keyword.toUpperCase(), args: args.trim(), stage }
  })
}

/** `.dockerignore` semantics: patterns in order, the last match wins, `!` re-admits; a match on a parent directory counts. */
function dockerignore(rules: string): (file: string) => boolean {
  const patterns = rules.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((line) => {
    const negate = line.startsWith('!')
    const glob = path.posix.normalize(negate ? line.slice(1) : line).replace(/\/$/, '')
    const source = glob.split('/').map((part) => part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/')
    return { negate, re: new RegExp(`^${source.replace(/\.\*\//g, '(?:.*/)?')}$`) }
  })
  return (file) => {
    const prefixes = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))
    let excluded = false
    for (const { negate, re } of patterns) if (prefixes.some((p) => re.test(p))) excluded = !negate
    return excluded
  }
}

async function repoFiles(dir = ROOT, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (['node_modules', '.git', '.tap', 'test-output'].includes(entry.name) && prefix === '') continue
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) out.push(...await repoFiles(path.join(dir, entry.name), rel))
    else out.push(rel)
  }
  return out
}

t.test('the Dockerfile passes dockerfile-utils\' validator', async (t) => {
  t.same(validate(await read('Dockerfile')), [], 'no diagnostics')
})

t.test('multi-stage on node:24-slim, production deps, non-root, HEALTHCHECK on /health, the npm start command', async (t) => {
  const steps = instructions(await read('Dockerfile'))
  const froms = steps.filter((s) => s.keyword === 'FROM')
  t.ok(froms.length >= 2, 'multi-stage')
  for (const from of froms) t.match(from.args, /^node:24-slim(\s|$)/, `${from.args}: the official Node 24 slim image`)
  const last = froms.length - 1
  t.ok(steps.some((s) => s.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(s.args)), 'npm ci --omit=dev')
  t.notOk(steps.some((s) => s.stage === last && s.keyword === 'RUN' && /\bnpm (ci|install)\b(?!.*--omit=dev)/.test(s.args)), 'no full install in the runtime stage')
  const user = steps.filter((s) => s.stage === last && s.keyword === 'USER').at(-1)
  t.ok(user, 'the runtime stage sets a USER')
  t.notMatch(user?.args ?? 'root', /^(root|0)(:|$)/, `runs as ${user?.args}, not root`)
  t.match(steps.find((s) => s.keyword === 'ENV' && /HOST=/.test(s.args))?.args, /HOST=0\.0\.0\.0/, 'listens on every interface in the container')
  t.ok(steps.some((s) => s.keyword === 'EXPOSE' && s.args === '8080'))
  const healthcheck = steps.find((s) => s.keyword === 'HEALTHCHECK')
  t.match(healthcheck?.args, /\/health\b/, 'HEALTHCHECK asks /health')
  const pkg = JSON.parse(await read('package.json'))
  const cmd = steps.filter((s) => s.stage === last && s.keyword === 'CMD').at(-1)!
  t.same(JSON.parse(cmd.args), pkg.scripts.start.split(' '), `CMD ${cmd.args} is \`npm start\` (${pkg.scripts.start})`)
})

t.test('the build context with production dependencies only starts tiergate, and the HEALTHCHECK passes', async (t) => {
  const admits = dockerignore(await read('.dockerignore'))
  const files = (await repoFiles()).filter((f) => !admits(f))
  for (const needed of ['package.json', 'package-lock.json', 'server.ts', 'app.ts', 'config.ts', 'plugins/auth.ts', 'providers/contract.ts', 'routes/health.ts']) {
    t.ok(files.includes(needed), `${needed} is in the build context`)
  }
  for (const kept of files) t.notMatch(kept, /^(test|bench|deploy|\.git|node_modules|\.env$)|\.test\.ts$/, `${kept} belongs in the image`)
  t.notOk(files.includes('.env'), 'no .env (secrets) in the image')

  // Assemble what the image holds: the admitted files and `npm ci --omit=dev`'s packages.
  const image = await mkdtemp(path.join(tmpdir(), 'tiergate-image-'))
  t.teardown(() => rm(image, { recursive: true, force: true }))
  for (const file of files) {
    await mkdir(path.dirname(path.join(image, file)), { recursive: true })
    await copyFile(path.join(ROOT, file), path.join(image, file))
  }
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT })
  const topLevel = stdout.split('\n').map((p) => path.relative(path.join(ROOT, 'node_modules'), p)).filter((p) => p && !p.startsWith('..') && !p.includes('node_modules'))
  t.ok(topLevel.includes('fastify') && !topLevel.includes('tap') && !topLevel.includes('typescript'), 'production packages only')
  for (const pkg of topLevel) await cp(path.join(ROOT, 'node_modules', pkg), path.join(image, 'node_modules', pkg), { recursive: true })

  const server = await startServerProcess({
    args: ['server.ts'],
    cwd: image,
    env: (port) => ({ PATH: process.env.PATH!, HOST: '127.0.0.1', PORT: String(port), PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn' }),
  })
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  const { port, exited } = server
  t.pass("tiergate starts from the image's files alone")

  // The image's HEALTHCHECK command, exactly as written, run by the same Node.
  const steps = instructions(await read('Dockerfile'))
  const [, ...healthArgs] = JSON.parse(steps.find((s) => s.keyword === 'HEALTHCHECK')!.args.replace(/^(--\S+\s+)*CMD\s+/, ''))
  const check = () => run(process.execPath, healthArgs, { env: { PORT: String(port) } }).then(() => 0, (err) => err.code as number)
  t.equal(await check(), 0, 'HEALTHCHECK passes while tiergate runs')
  server.child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: a graceful exit')
  t.equal(await check(), 1, 'HEALTHCHECK fails once it is gone')
})

t.test('docker-compose config accepts the compose file on a fresh clone after cp .env.example .env', async (t) => {
  const clone = await mkdtemp(path.join(tmpdir(), 'tiergate-compose-'))
  t.teardown(() => rm(clone, { recursive: true, force: true }))
  for (const file of ['docker-compose.yml', '.env.example', 'Dockerfile', '.dockerignore']) await copyFile(path.join(ROOT, file), path.join(clone, file))
  await cp(path.join(ROOT, 'deploy'), path.join(clone, 'deploy'), { recursive: true })
  await copyFile(path.join(clone, '.env.example'), path.join(clone, '.env'))
  const { stdout } = await run('docker-compose', ['config'], { cwd: clone })
  const config = YAML.parse(stdout)
  const services = config.services

  t.same(Object.keys(services).sort(), ['g4f', 'grafana', 'ollama', 'prometheus', 'redis', 'tiergate'])
  t.same(services.tiergate.profiles, undefined, 'tiergate starts by default')
  t.same(services.ollama.profiles, undefined, 'ollama starts by default')
  t.same(services.redis.profiles, ['redis'])
  t.same(services.g4f.profiles, ['g4f'])
  t.same(services.prometheus.profiles, ['monitoring'])
  t.same(services.grafana.profiles, ['monitoring'])

  const tiergate = services.tiergate
  t.same(tiergate.ports.map((p: any) => [p.published, p.target]), [[8080, 8080]])
  t.match(tiergate.environment, { HOST: '0.0.0.0', PORT: '8080', OLLAMA_HOST: 'ollama', OLLAMA_PORT: '11434' })
  t.same(tiergate.depends_on, { ollama: { condition: 'service_healthy' } })
  t.equal(tiergate.build.context, clone, 'built from the clone')
  t.match(services.ollama.image, /^ollama\/ollama(:|$)/)
  t.ok(services.ollama.volumes.some((v: string) => v.startsWith('ollama:/root/.ollama')), 'models live in a volume')
  t.match(services.ollama.healthcheck.test, ['CMD', 'ollama', 'list'])
  t.match(services.g4f.image, /^hlohaus789\/g4f(:|$)/)
  t.ok(services.prometheus.volumes.some((v: string) => v === `${clone}/deploy/prometheus:/etc/prometheus:ro`), 'Prometheus gets prometheus.yml and alerts.yml')

  // Every variable handed to tiergate (its .env and its own overrides) is one tiergate knows.
  const example = new Set((await read('.env.example')).split('\n').map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter(Boolean))
  const known = (name: string) => {
    if (ENV_VARIABLES.includes(name)) return true
    const family = PROVIDER_VARIABLE.exec(name)
    return family !== null && BUILTIN_PROVIDERS.includes((family[1] ?? family[2]).toLowerCase())
  }
  const passed = Object.keys(tiergate.environment)
  t.ok(passed.length > 40, `${passed.length} variables passed`)
  for (const name of passed) {
    t.ok(example.has(name), `${name} is in .env.example`)
    t.ok(known(name), `${name} is read by config.ts`)
  }
  // And with them tiergate is configured as the compose file intends, profiles included.
  const env = Object.fromEntries(Object.entries(tiergate.environment).map(([k, v]) => [k, String(v ?? '')]))
  const config0 = loadConfig(env)
  t.equal(config0.host, '0.0.0.0')
  t.equal(config0.ollama.localBaseUrl, 'http://ollama:11434')
  const withProfiles = loadConfig({ ...env, REDIS_URL: 'redis://redis:6379', G4F_MAIN_API_BASE: 'http://g4f:8080/v1' })
  t.equal(withProfiles.redisUrl, 'redis://redis:6379')
  t.ok(withProfiles.providers.g4f.enabled, 'G4F_MAIN_API_BASE as the compose file says enables g4f')
  t.equal(withProfiles.providers.g4f.tier, 5, 'as the last tier')
})
