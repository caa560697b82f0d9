// Turns a provider factory into a Fastify plugin that registers the provider into
// `app.providers` when its configuration enables it.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Provider } from './contract.ts'
import type { ProviderSettings } from '../config.ts'

export type ProviderFactory = (app: FastifyInstance, settings: ProviderSettings) => Provider

export function providerPlugin(name: string, build: ProviderFactory) {
  return fp(async function registerProvider(app: FastifyInstance) {
    const settings = app.config.providers[name]
    if (!settings?.enabled) return
    app.providers.register(build(app, settings), settings)
  }, { name: `provider-${name}`, dependencies: ['registry', 'upstream'] })
}
