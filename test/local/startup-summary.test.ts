// The start summary (plugins/startup-summary.ts): providers in tier order with reachability
// and model counts, every host outside this machine's network that prompts may reach, and
// what to do when nothing can answer.
import t from 'tap'
import { renderSummary, egressHosts, isLocalHost, firstRunHint, displayUrl, type SummaryProvider } from '../../plugins/startup-summary.ts'
import { refusedUrl } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

const provider = (p: Partial<SummaryProvider> & { name: string; tier: number }): SummaryProvider =>
  ({ catchAll: false, models: 0, reachable: true, error: undefined, where: '', ...p })

t.test('the block lists providers in tier order, reachable or not, with their models', async (t) => {
  const text = renderSummary({
    listen: 'http://127.0.0.1:8080',
    providers: [
      provider({ name: 'pollinations', tier: 5, reachable: false, error: 'connection to text.pollinations.ai failed (ENOTFOUND)', where: 'https://text.pollinations.ai/openai' }),
      provider({ name: 'groq', tier: 2, models: 12, where: 'https://api.groq.com/openai/v1' }),
      provider({ name: 'local', tier: 4, models: 1, where: 'in-process: /models/qwen.gguf' }),
    ],
    egress: [{ host: 'api.groq.com', why: 'groq' }],
  })
  const rows = text.split('\n').filter((l) => l.startsWith('  tier'))
  t.same(rows.map((r) => r.split(/\s+/)[3]), ['groq', 'local', 'pollinations'], 'tier order')
  t.match(rows[0], /tier 2 +groq +reachable +12 models +https:\/\/api\.groq\.com/)
  t.match(rows[1], /local +file ok +1 model +in-process: \/models\/qwen\.gguf/)
  t.match(rows[2], /pollinations +UNREACHABLE +0 models .* — connection to text\.pollinations\.ai failed/)
  t.match(text, /Prompts may leave this machine for:\n  api\.groq\.com  \(groq\)/)
  t.notMatch(text, /Nothing can answer/, 'something can answer: no hint')
})

t.test('when nothing can answer, one line says exactly what to do', async (t) => {
  const text = renderSummary({ listen: 'http://127.0.0.1:8080', providers: [provider({ name: 'ollama', tier: 4, reachable: false })], egress: [] })
  t.match(text, firstRunHint())
  t.match(firstRunHint(), /set a provider key .*start Ollama .*LOCAL_MODEL_PATH at a \.gguf/)
  t.match(renderSummary({ listen: 'x', providers: [], egress: [] }), /No provider is enabled\.[\s\S]*Nothing can answer yet/)
})

t.test('third-party hosts: the Ollama remote backup (off when empty), Pollinations, G4F, clouds; never local ones', async (t) => {
  const config = { ollama: { localBaseUrl: 'http://localhost:11434', remoteBaseUrl: 'https://g4f.space/api/ollama/v1' }, g4f: { main: 'https://g4f.dev/api/auto', groq: 'http://192.168.1.9:1337/v1' } }
  const hosts = egressHosts(config, [
    { name: 'ollama', baseUrl: undefined }, { name: 'g4f', baseUrl: undefined },
    { name: 'pollinations', baseUrl: 'https://text.pollinations.ai/openai' }, { name: 'local', baseUrl: undefined },
    { name: 'lmstudio', baseUrl: 'http://127.0.0.1:1234/v1' },
  ])
  t.same(hosts.map((h) => h.host), ['g4f.space', 'g4f.dev', 'text.pollinations.ai'])
  t.match(hosts[0].why, /ollama remote backup: models not installed locally; OLLAMA_REMOTE_BASE_URL= \(empty\) turns it off/)
  const off = egressHosts({ ...config, ollama: { ...config.ollama, remoteBaseUrl: undefined } }, [{ name: 'ollama', baseUrl: undefined }])
  t.same(off, [], 'OLLAMA_REMOTE_BASE_URL= (empty): Ollama prompts stay local')
  for (const host of ['localhost', '127.0.0.1', '10.0.0.5', '192.168.1.9', '172.20.0.3', 'ollama', 'nas.local', 'host.docker.internal']) t.ok(isLocalHost(host), `${host} is local`)
  for (const host of ['api.openai.com', 'g4f.space', '8.8.8.8', '172.32.0.1']) t.notOk(isLocalHost(host), `${host} is not`)
})

t.test('at start the gateway logs the summary: providers in tier order, reachability from discovery', async (t) => {
  const mock = await startOpenAIMock({ models: ['m1', 'm2'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'later,first', LATER_BASE_URL: `${await refusedUrl()}/v1`, PROVIDER_PRIORITY_LATER: '3', FIRST_BASE_URL: mock.baseUrl, PROVIDER_PRIORITY_FIRST: '1' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const line = gw.logs.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith('start summary'))
  t.ok(line, 'one start summary line')
  t.match(line.providers, [{ name: 'first', tier: 1, reachable: true, models: 2 }, { name: 'later', tier: 3, reachable: false, models: 0, error: /connection to 127\.0\.0\.1:\d+ failed/ }])
  t.same(line.egress, [], 'mocks on loopback: nothing leaves the machine')
  t.equal(line.canAnswer, true)
  t.match(gw.app.startupSummary(), /tier 1 +first +reachable +2 models/)
})

t.test('a gateway that can answer nothing says so in its start line', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const line = gw.logs.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith('start summary'))
  t.equal(line.canAnswer, false)
  t.match(line.msg, /Nothing can answer yet/)
})

t.test('a base URL is shown without user:password or a credential in its query', async (t) => {
  t.equal(displayUrl('http://user:hunter2@ollama.lan:11434/'), 'http://ollama.lan:11434')
  t.equal(displayUrl('https://api.example.com/v1?api_key=abc123&x=1'), 'https://api.example.com/v1?api_key=[REDACTED]&x=1')
  t.equal(displayUrl('not a url?key=abc'), 'not a url?key=[REDACTED]')
})
