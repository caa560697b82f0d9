// Keeps configured secrets out of everything that leaves the gateway (issue 9 items 1–5):
//   - registers the app's secrets for plugins/redact.ts's process-wide redactor, which every
//     UpstreamError applies at birth (message, code/type) — unregistered on close;
//   - masks them in every error body the app sends (any dialect's envelope: last line of defence);
//   - scrubs them out of answer content (plugins/scrub-content.ts) by wrapping `app.router.chat`,
//     so every caller — the pipeline's session, cache and each dialect route — only ever sees
//     scrubbed answers; each masked occurrence counts in `tiergate_secrets_scrubbed_total`.
// Decorates nothing. Depends on `router` (wrapped) and `metrics` (the counter joins its registry).
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { createRedactor, registerSecrets } from './redact.ts'
import { SecretMatcher, scrubCompletion, scrubStream } from './scrub-content.ts'
import type { RoutedChat } from './router.ts'

export default fp(async function secretGuard(app: FastifyInstance) {
  const { secrets } = app.config
  const unregister = registerSecrets(secrets)
  app.addHook('onClose', async () => unregister())

  const redact = createRedactor(secrets)
  // Callback style: no promise per response (issue 14).
  app.addHook('onSend', (_request, reply, payload, done) => {
    done(null, reply.statusCode >= 400 && typeof payload === 'string' ? redact(payload) : payload)
  })

  const scrubbed = new Counter({
    name: 'tiergate_secrets_scrubbed_total',
    help: 'Configured secrets (provider or gateway keys) masked out of answer content an upstream sent, by provider.',
    labelNames: ['provider'] as const,
    registers: [app.metrics.registry],
  })
  const matcher = new SecretMatcher(secrets)
  if (matcher.empty) return

  const route = app.router.chat.bind(app.router)
  app.router.chat = async (req, rctx) => {
    const routed: RoutedChat = await route(req, rctx)
    const counted = (count: number) => {
      scrubbed.inc({ provider: routed.provider }, count)
      rctx.log.warn({ provider: routed.provider, count }, 'the upstream echoed a configured secret in its answer; masked')
    }
    if (routed.stream) return { ...routed, value: scrubStream(matcher, routed.value, counted) }
    const { value, count } = scrubCompletion(matcher, routed.value)
    if (count === 0) return routed
    counted(count)
    return { ...routed, value }
  }
}, { name: 'secret-guard', dependencies: ['router', 'metrics'] })
