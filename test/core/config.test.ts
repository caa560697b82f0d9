// config.ts: defaults, per-provider families, and clear errors naming the variable.
import t from 'tap'
import { loadConfig, ConfigError } from '../../config.ts'

t.test('defaults: no variables at all still make a config with keyless providers on', async (t) => {
  const config = loadConfig({})
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 8080)
  t.same(Object.values(config.providers).filter((p) => p.enabled).map((p) => p.name).sort(), ['gpt4all', 'ollama', 'pollinations'])
  t.equal(config.providers.openai.tier, 1)
  t.equal(config.providers.g4f.tier, 5)
  t.equal(config.breaker.errorThresholdPercentage, 50)
  t.equal(config.breaker.resetTimeoutMs, 30000)
  t.equal(config.breaker.volumeThreshold, 5)
  t.equal(config.breaker.rollingWindowMs, 10000)
  t.equal(config.routing.modelsRefreshMs, 600000)
})

t.test('a key enables a provider; key pools from a list and numbered variables', async (t) => {
  const config = loadConfig({ OPENAI_API_KEY: 'sk-a,sk-b', OPENAI_API_KEY_2: 'sk-d', OPENAI_API_KEY_1: 'sk-c', PROVIDER_PRIORITY_OPENAI: '3', OPENAI_MODELS: 'gpt-4o, gpt-4o-mini' })
  t.ok(config.providers.openai.enabled)
  t.same(config.providers.openai.apiKeys, ['sk-a', 'sk-b', 'sk-c', 'sk-d'])
  t.equal(config.providers.openai.tier, 3)
  t.same(config.providers.openai.models, ['gpt-4o', 'gpt-4o-mini'])
  t.same(config.secrets.sort(), ['sk-a', 'sk-b', 'sk-c', 'sk-d'])
})

t.test('PROVIDERS_DISABLED, custom providers, aliases, per-provider timeouts', async (t) => {
  const config = loadConfig({
    PROVIDERS_DISABLED: 'ollama, Pollinations',
    CUSTOM_PROVIDERS: 'vllm', VLLM_BASE_URL: 'http://127.0.0.1:8000/v1/', VLLM_TIMEOUT_FIRST_BYTE_MS: '1500',
    MODEL_ALIASES: 'smart=openai/gpt-4o|claude-x, fast=groq/llama',
  })
  t.notOk(config.providers.ollama.enabled)
  t.notOk(config.providers.pollinations.enabled)
  t.ok(config.providers.gpt4all.enabled)
  t.ok(config.providers.vllm.enabled)
  t.equal(config.providers.vllm.baseUrl, 'http://127.0.0.1:8000/v1')
  t.equal(config.providers.vllm.tier, 10)
  t.equal(config.providers.vllm.timeouts.firstByteMs, 1500)
  t.equal(config.providers.vllm.timeouts.idleMs, 30000)
  t.same([...config.routing.aliases], [['smart', ['openai/gpt-4o', 'claude-x']], ['fast', ['groq/llama']]])
})

t.test('bad values stop start-up with the variable named', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ BREAKER_ERROR_THRESHOLD_PERCENTAGE: '150' }, /BREAKER_ERROR_THRESHOLD_PERCENTAGE/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ PROVIDER_PRIORITY_GROQ: 'first' }, /PROVIDER_PRIORITY_GROQ/],
    [{ OPENAI_BASE_URL: 'not a url' }, /OPENAI_BASE_URL/],
    [{ CUSTOM_PROVIDERS: 'mine' }, /MINE_BASE_URL/],
    [{ CUSTOM_PROVIDERS: 'openai', OPENAI_BASE_URL: 'http://x' }, /CUSTOM_PROVIDERS/],
    [{ MODEL_ALIASES: 'oops' }, /MODEL_ALIASES/],
    [{ GROQ_TIMEOUT_IDLE_MS: '-5' }, /GROQ_TIMEOUT_IDLE_MS/],
  ]
  for (const [env, pattern] of cases) {
    t.throws(() => loadConfig(env), ConfigError, JSON.stringify(env))
    t.throws(() => loadConfig(env), { message: pattern })
  }
})

t.test('npm start refuses a bad config with one clear line and exit code 1', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const result = spawnSync(process.execPath, ['server.ts'], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8', timeout: 20_000 })
  t.equal(result.status, 1)
  t.match(result.stderr, /Invalid configuration: PORT/)
})
