# tiergate: TypeScript run directly by Node 24's type stripping (no build step), production
# dependencies only, as the unprivileged `node` user of the official image.

# --- dependencies: resolved from the lockfile, dev dependencies left out ---------------------
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM node:24-slim
WORKDIR /app
# Inside a container 127.0.0.1 is unreachable from outside it: listen on every interface.
ENV HOST=0.0.0.0 \
    PORT=8080
COPY --from=deps /app/node_modules ./node_modules
# .dockerignore admits only what runs: package.json, the root .ts files, config/, dialects/,
# plugins/, providers/, routes/ and public/. Owned by root: the server can read its code, not change it.
COPY . .
# Node's compile cache (type-stripped and compiled modules), warmed at build time by the user
# and flags that run the server (the cache is kept per user id and V8 flags): at start Node
# reads it instead of stripping types with its WebAssembly stripper — idle RSS 153 -> 136 MB.
# Read-only at run time (k8s readOnlyRootFilesystem): a module it lacks is compiled as usual.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir .compile-cache && chown node .compile-cache
USER node
RUN node --max-semi-space-size=32 --expose-gc --liftoff-only --input-type=module -e "await import('/app/server.ts')"
EXPOSE 8080
# The slim image has no curl: ask /health with Node's own fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs, without npm in between (so SIGTERM reaches Node and it drains). The
# image holds no .env (secrets stay out of it): mount one at /app/.env, or pass the variables
# (`docker run --env-file .env`, compose's env_file); variables already set win over the file.
# --max-semi-space-size=32 (MB): the most V8's young generation grows to under load, pinned
# rather than left to V8's heuristics. Each scavenge copies what the streams in flight hold, so
# a smaller young generation collects more often for the same survivors: =16 kept RSS after the
# c=50 bench load at 172-177 MB but cost 5-13 % more CPU per request than =32 (208-219 MB; the
# bare proxy reads 182-237 MB after the same load); =64 saved no more CPU for 288 MB
# (bench/flags.ts, two alternating runs; =8 cost 13-37 %) — README, Benchmarks.
# --expose-gc: one memory-reducing collection once listening (startup-garbage.ts: start-up leaves
# the young generation at its maximum and garbage nothing collects at idle): ~30 MB less idle RSS.
# --liftoff-only: WebAssembly (undici's HTTP parser) stays on V8's baseline compiler; optimizing
# its one large parser function held ~8 MB of compiler memory from the first streamed answer on,
# and CPU per request stayed within the noise (bench/flags.ts, two alternating runs).
CMD ["node", "--max-semi-space-size=32", "--expose-gc", "--liftoff-only", "--env-file-if-exists=.env", "server.ts"]
