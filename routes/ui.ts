// The browser pages: GET / (chat playground) and GET /status (provider status), their assets
// from public/ (@fastify/static), and the ES module builds of marked and DOMPurify straight
// from node_modules — no front-end build step. The pages use only files from this origin, no
// inline script or style, so a strict `default-src 'self'` Content-Security-Policy holds.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import { Type } from '@sinclair/typebox'

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url))

const packageDir = (name: string) => path.dirname(fileURLToPath(import.meta.resolve(name)))

/** The only files served from node_modules: the browser builds (and their source maps). */
const VENDOR_FILES: Record<string, string> = {
  'marked.esm.js': packageDir('marked'),
  'marked.esm.js.map': packageDir('marked'),
  'purify.es.mjs': packageDir('dompurify'),
  'purify.es.mjs.map': packageDir('dompurify'),
}

export default async function ui(app: FastifyInstance) {
  // wildcard: false registers one route per file found now, instead of a catch-all GET that
  // would also answer (with 404s of its own) for every unknown API path.
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', wildcard: false, index: false, dotfiles: 'ignore' })

  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
  app.get('/status', { schema: { hide: true } }, (_request, reply) => reply.sendFile('status.html'))
  app.get('/vendor/:file', { schema: { hide: true, params: Type.Object({ file: Type.String() }) } }, (request, reply) => {
    const { file } = request.params as { file: string }
    const dir = Object.hasOwn(VENDOR_FILES, file) ? VENDOR_FILES[file] : undefined
    return dir ? reply.sendFile(file, dir) : reply.callNotFound()
  })
}
