// Issue 9 item 17: timer values above 2³¹−1 ms are refused by config with a clear message
// (Node's timers hold a signed 32-bit delay; a larger one fires after 1 ms). Every `*_MS`
// variable is a timer except the `*_TTL_MS` deadlines; per-provider timeouts included.
import t from 'tap'
import { loadConfig, ConfigError, ENV_VARIABLES, isTimerVariable } from '../../config.ts'

const TOO_LONG = String(2 ** 31) // 2147483648: the first value setTimeout cannot hold
const LONGEST = String(2 ** 31 - 1)

t.test('every timer variable refuses 2^31 ms and names itself and the limit', async (t) => {
  const timers = ENV_VARIABLES.filter(isTimerVariable)
  t.ok(timers.includes('MODELS_REFRESH_MS') && timers.includes('TIMEOUT_TOTAL_MS'), 'the issue\'s two examples are timers')
  for (const variable of timers) {
    t.throws(() => loadConfig({ [variable]: TOO_LONG }), { name: 'ConfigError', message: new RegExp(`${variable} .*2147483647`) }, variable)
    t.doesNotThrow(() => loadConfig({ [variable]: LONGEST }), `${variable}=${LONGEST} is accepted`)
  }
})

t.test('the issue\'s cases: MODELS_REFRESH_MS=2147483648, TIMEOUT_TOTAL_MS=3e9', async (t) => {
  t.throws(() => loadConfig({ MODELS_REFRESH_MS: '2147483648' }), ConfigError)
  t.throws(() => loadConfig({ TIMEOUT_TOTAL_MS: '3e9' }), { message: /TIMEOUT_TOTAL_MS must be an integer written in digits/ }, '3e9 is not read as 3')
  t.throws(() => loadConfig({ TIMEOUT_TOTAL_MS: '3000000000' }), { message: /TIMEOUT_TOTAL_MS must be at most/ })
  t.equal(loadConfig({ MODELS_REFRESH_MS: '0' }).routing.modelsRefreshMs, 0, '0 still turns discovery refresh off')
})

t.test('per-provider timeouts are timers too', async (t) => {
  for (const variable of ['GROQ_TIMEOUT_CONNECT_MS', 'GROQ_TIMEOUT_FIRST_BYTE_MS', 'GROQ_TIMEOUT_IDLE_MS', 'GROQ_TIMEOUT_TOTAL_MS', 'GROQ_HEDGE_FIRST_BYTE_MS']) {
    t.throws(() => loadConfig({ GROQ_API_KEY: 'gsk-1', [variable]: TOO_LONG }), { message: new RegExp(`${variable} must be at most`) })
  }
  t.equal(loadConfig({ GROQ_API_KEY: 'gsk-1', GROQ_TIMEOUT_TOTAL_MS: LONGEST }).providers.groq.timeouts.totalMs, 2 ** 31 - 1)
})

t.test('the rate-limit window is a timer: 30 days is refused, 1 day is not', async (t) => {
  t.throws(() => loadConfig({ RATE_LIMIT_WINDOW: '30 days' }), { message: /RATE_LIMIT_WINDOW must be at most/ })
  t.equal(loadConfig({ RATE_LIMIT_WINDOW: '1 day' }).rateLimit.windowMs, 86_400_000)
})

t.test('TTLs are deadlines, not timers: 30 days stays valid', async (t) => {
  t.notOk(isTimerVariable('SESSION_TTL_MS'))
  t.doesNotThrow(() => loadConfig({ SESSION_TTL_MS: String(30 * 86_400_000) }))
})
