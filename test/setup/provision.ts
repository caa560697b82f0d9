// `npm test`'s pretest: makes sure the system tools the suite runs for real are installed —
// redis-server (shared state), chromium (playground and status page), promtool (alert rules),
// docker-compose (compose file) and nginx (the fleet behind a load balancer). On Debian/Ubuntu
// as root it installs the missing ones with apt-get, once (later runs find them and return at
// once). Anywhere else it stops before the first test with one message naming each missing
// tool and the command that installs it — never a dozen scattered test failures.
//   node test/setup/provision.ts          (what `npm test` runs first)
//   node test/setup/provision.ts --check  (report only, install nothing)
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { spawnSync } from 'node:child_process'

export interface Tool {
  /** What the tests run. */
  command: string
  /** Where the tests look for it when they use a fixed path (not PATH). */
  path?: string
  /** The Debian/Ubuntu package that provides it. */
  debian: string
  /** Homebrew formula, for the message on macOS. */
  brew: string
}

export const TOOLS: Tool[] = [
  { command: 'redis-server', debian: 'redis-server', brew: 'redis' },
  { command: 'chromium', path: '/usr/bin/chromium', debian: 'chromium', brew: '--cask chromium' },
  { command: 'promtool', debian: 'prometheus', brew: 'prometheus' },
  { command: 'docker-compose', debian: 'docker-compose', brew: 'docker-compose' },
  { command: 'nginx', path: '/usr/sbin/nginx', debian: 'nginx', brew: 'nginx' },
]

export interface Machine {
  debian: boolean
  root: boolean
  hasAptGet: boolean
  platform: NodeJS.Platform
}

export type Plan =
  | { action: 'none' }
  | { action: 'install'; packages: string[] }
  | { action: 'fail'; message: string }

/** What to do about the missing tools on this machine. Pure. */
export function plan(missing: Tool[], machine: Machine): Plan {
  if (missing.length === 0) return { action: 'none' }
  if (machine.debian && machine.root && machine.hasAptGet) return { action: 'install', packages: missing.map((t) => t.debian) }
  return { action: 'fail', message: failureMessage(missing, machine) }
}

export function failureMessage(missing: Tool[], machine: Machine): string {
  const install = machine.platform === 'darwin'
    ? (t: Tool) => `brew install ${t.brew}`
    : (t: Tool) => `${machine.root ? '' : 'sudo '}apt-get install -y ${t.debian}`
  const lines = missing.map((t) => `  ${t.command.padEnd(15)} ${install(t)}`)
  const all = machine.platform === 'darwin'
    ? ''
    : `\nAll at once: ${machine.root ? '' : 'sudo '}apt-get update && ${machine.root ? '' : 'sudo '}apt-get install -y --no-install-recommends ${missing.map((t) => t.debian).join(' ')}`
  return `npm test needs these tools, which this machine does not have:\n${lines.join('\n')}${all}\n`
    + (machine.debian && !machine.root ? 'Run npm test as root once and it installs them itself.\n' : '')
}

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    try {
      accessSync(join(dir, command), constants.X_OK)
      return true
    } catch { /* next */ }
  }
  return false
}

export const isInstalled = (tool: Tool) => (tool.path ? existsSync(tool.path) : false) || onPath(tool.command)

function machine(): Machine {
  return {
    debian: existsSync('/etc/debian_version'),
    root: process.getuid?.() === 0,
    hasAptGet: onPath('apt-get'),
    platform: process.platform,
  }
}

function aptInstall(packages: string[]): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  console.error(`provision: installing ${packages.join(', ')} (apt-get, once) …`)
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  if (update.status !== 0) return false
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env })
  return install.status === 0
}

if (import.meta.main) {
  const here = machine()
  const missing = TOOLS.filter((t) => !isInstalled(t))
  const decided = process.argv.includes('--check') && missing.length ? { action: 'fail' as const, message: failureMessage(missing, here) } : plan(missing, here)
  if (decided.action === 'fail') {
    console.error(decided.message)
    process.exit(1)
  }
  if (decided.action === 'install') {
    aptInstall(decided.packages)
    const still = TOOLS.filter((t) => !isInstalled(t))
    if (still.length) {
      console.error(`provision: apt-get could not install everything.\n${failureMessage(still, here)}`)
      process.exit(1)
    }
    console.error('provision: every tool the tests need is installed')
  }
}
