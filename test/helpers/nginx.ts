// A throwaway real nginx load balancer for tests: Debian's /usr/sbin/nginx (apt package nginx;
// test setup installs it like redis-server) with a generated config in a temp prefix — its
// own pid file, error log and temp paths, no root paths — listening on a free 127.0.0.1 port
// and balancing round-robin over the given upstream origins. Killed and cleaned up on close.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort } from '../mocks/server.ts'

export const NGINX_BINARY = '/usr/sbin/nginx'
const START_TIMEOUT_MS = 10_000

export interface Nginx {
  url: string
  port: number
  close(): Promise<void>
}

/**
 * The config an edge balancer in front of tiergate would have: HTTP/1.1 keep-alive to the
 * instances, no buffering (SSE reaches the client as it is written), and X-Forwarded-For *set*
 * to the peer's address (a client cannot forge its way past the edge).
 */
export function nginxConfig(prefix: string, port: number, upstreams: string[]): string {
  return `
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream tiergate {
${upstreams.map((u) => `    server ${u} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 20m;
    location / {
      proxy_pass http://tiergate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout;
    }
  }
}
`
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** `upstreams`: `127.0.0.1:port` of each instance. */
export async function startNginx(upstreams: string[]): Promise<Nginx> {
  const prefix = await mkdtemp(path.join(tmpdir(), 'tiergate-nginx-'))
  const port = await freePort()
  const conf = path.join(prefix, 'nginx.conf')
  await writeFile(conf, nginxConfig(prefix, port, upstreams))
  // -e: the start-up error log too goes to the prefix (nginx ≥ 1.19.5), never /var/log/nginx.
  const child = spawn(NGINX_BINARY, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString('utf8') })
  child.stderr.on('data', (d: Buffer) => { output += d.toString('utf8') })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '')
      child.kill('SIGKILL')
      await rm(prefix, { recursive: true, force: true })
      throw new Error(`nginx did not start (exit ${child.exitCode}):\n${output}\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM') // fast shutdown
        await exited
      }
      await rm(prefix, { recursive: true, force: true })
    },
  }
}
