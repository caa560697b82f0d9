// Decorates `app.upstream`: the UpstreamHttp client (one undici Pool per upstream origin)
// that every provider adapter sends through. Closes every pool when the app closes.
import fp from 'fastify-plugin'
import { UpstreamHttp } from '../providers/http.ts'

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamHttp
  }
}

export default fp(async function upstream(app) {
  const http = new UpstreamHttp()
  app.decorate('upstream', http)
  app.addHook('onClose', async () => http.close())
}, { name: 'upstream' })
