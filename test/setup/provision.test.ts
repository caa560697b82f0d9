// test/setup/provision.ts: what `npm test` does about missing system tools, by machine.
import t from 'tap'
import { plan, failureMessage, TOOLS, type Machine } from './provision.ts'

const debianRoot: Machine = { debian: true, root: true, hasAptGet: true, platform: 'linux' }
const byName = (...names: string[]) => TOOLS.filter((tool) => names.includes(tool.command))

t.test('what happens, by machine', async (t) => {
  const table: Array<[string, Machine, string[], string]> = [
    ['nothing missing', debianRoot, [], 'none'],
    ['Debian as root installs', debianRoot, ['redis-server', 'promtool'], 'install'],
    ['Debian, not root: one message', { ...debianRoot, root: false }, ['nginx'], 'fail'],
    ['not Debian: one message', { debian: false, root: true, hasAptGet: false, platform: 'linux' }, ['chromium'], 'fail'],
    ['macOS: one message', { debian: false, root: false, hasAptGet: false, platform: 'darwin' }, ['docker-compose'], 'fail'],
  ]
  for (const [what, machine, missing, action] of table) t.equal(plan(byName(...missing), machine).action, action, what)
  t.same(plan(byName('redis-server', 'promtool', 'chromium'), debianRoot), { action: 'install', packages: ['redis-server', 'chromium', 'prometheus'] }, 'Debian package names')
})

t.test('the message names each missing tool with the command that installs it', async (t) => {
  const message = failureMessage(byName('redis-server', 'promtool', 'nginx'), { ...debianRoot, root: false })
  t.match(message, /redis-server\s+sudo apt-get install -y redis-server/)
  t.match(message, /promtool\s+sudo apt-get install -y prometheus/)
  t.match(message, /nginx\s+sudo apt-get install -y nginx/)
  t.match(message, /apt-get install -y --no-install-recommends redis-server prometheus nginx/)
  t.match(failureMessage(byName('redis-server'), { debian: false, root: false, hasAptGet: false, platform: 'darwin' }), /brew install redis/)
})

t.test('npm test runs the provisioning first', async (t) => {
  const pkg = JSON.parse((await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  t.equal(pkg.scripts.pretest, 'node test/setup/provision.ts')
  const ci = (await import('node:fs')).readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')
  t.notMatch(ci, /^[^#]*apt-get/m, '.ci/run leaves the tools to npm test')
  t.match(ci, /npm ci[^\n]*\nnpm test\n$/)
})
