// A nesting-depth limit on request bodies (issue 9 item 10), checked in preValidation: after
// Fastify parsed the JSON (V8's parser is iterative, any depth is fine there) and before
// validation, sessions, cache keys, tracing or the router touch it — all of which may walk or
// serialize the body recursively. A 10⁵-deep passthrough field once made JSON.stringify throw
// in the transport, counted as a connection fault: five requests opened every breaker.
// Depends on `errors` (the 400 comes in the route's envelope).
import fp from 'fastify-plugin'
import { bodyTooDeep } from './errors.ts'
import { nestsDeeperThan } from '../providers/json-depth.ts'

export default fp(async function bodyDepth(app) {
  const max = app.config.bodyMaxDepth
  // Callback style: no promise per request.
  app.addHook('preValidation', (request, _reply, done) => {
    done(nestsDeeperThan(request.body, max) ? bodyTooDeep(max) : undefined)
  })
}, { name: 'body-depth', dependencies: ['errors'] })
