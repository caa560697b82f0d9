// config.ts, .env.example and the README describe the same variables, one for one.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { ENV_VARIABLES, PROVIDER_VARIABLE, BUILTIN_PROVIDERS, loadConfig } from '../../config.ts'

const envExample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const exampleVars = envExample.split('\n').filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l)).map((l) => l.slice(0, l.indexOf('=')))
const builtins = new Set(BUILTIN_PROVIDERS.map((n) => n.toUpperCase()))

t.test('every variable config.ts reads is in .env.example and the README', async (t) => {
  for (const name of ENV_VARIABLES) {
    t.ok(exampleVars.includes(name), `${name} in .env.example`)
    t.ok(readme.includes(`\`${name}\``), `${name} in README`)
  }
})

t.test('every variable in .env.example is one config.ts reads', async (t) => {
  for (const name of exampleVars) {
    const family = PROVIDER_VARIABLE.exec(name)
    const provider = family?.[1] ?? family?.[2]
    t.ok(ENV_VARIABLES.includes(name) || (provider !== undefined && builtins.has(provider)), `${name} is read by config.ts`)
  }
  t.same(new Set(exampleVars).size, exampleVars.length, 'no variable listed twice')
})

t.test('.env.example as shipped is a valid configuration', async (t) => {
  const env = Object.fromEntries(envExample.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const config = loadConfig(env)
  t.equal(config.port, 8080)
  t.same(Object.values(config.providers).filter((p) => p.enabled).map((p) => p.name).sort(), ['gpt4all', 'ollama', 'pollinations'])
})
