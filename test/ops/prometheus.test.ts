// The shipped Prometheus artifacts, checked by Prometheus' own tool: the alert rules parse, their
// unit tests (deploy/prometheus/alerts.test.yml: each alert fires when it should and stays
// silent when it should not) pass, and the compose Prometheus config loads them.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const PROMETHEUS_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url))

const promtool = (...args: string[]) => run('promtool', args, { cwd: PROMETHEUS_DIR })

t.test('promtool check rules: the alert rules are valid', async (t) => {
  const { stdout } = await promtool('check', 'rules', 'alerts.yml')
  t.match(stdout, /SUCCESS: 4 rules found/)
})

t.test('promtool test rules: every alert fires, and stays silent, when it should', async (t) => {
  const { stdout } = await promtool('test', 'rules', 'alerts.test.yml')
  t.match(stdout, /SUCCESS/)
  t.notMatch(stdout, /FAILED/)
})

t.test('promtool check config: the compose Prometheus config loads the rules', async (t) => {
  const { stdout } = await promtool('check', 'config', 'prometheus.yml')
  t.match(stdout, /SUCCESS: 1 rule files found/)
  t.match(stdout, /is valid prometheus config file syntax/)
})
