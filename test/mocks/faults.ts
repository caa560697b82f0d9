// Faults any mock upstream can be scripted with: the ways real upstreams fail.
import type { ServerResponse } from 'node:http'
import { sleep } from './server.ts'

export type Fault =
  | { fault: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { fault: 'reset' } // socket destroyed before any header
  | { fault: 'hang' } // accepts, never answers
  | { fault: 'html'; status?: number } // an HTML error page (proxy / CDN)
  | { fault: 'wrong-content-type' } // 200 with text/plain
  | { fault: 'truncated-json' } // 200 JSON cut mid-object
  | { fault: 'cut-body' } // 200 JSON headers, half the body, then the socket is destroyed
  | { fault: 'stall-body' } // 200 JSON headers, half the body, then silence with the socket open
  | { fault: 'delay'; ms: number } // answer normally, after ms (placed before a normal answer)
  /** 200 with these chunks of the mock's own protocol, then silence with the socket open (a stalled stream). */
  | { fault: 'partial'; contentType: string; chunks: string[] }

export function isFault(step: unknown): step is Fault {
  return typeof step === 'object' && step !== null && 'fault' in step
}

/** Plays a fault. Returns true if the response is dealt with; 'delay' returns false after waiting. */
export async function playFault(res: ServerResponse, fault: Fault): Promise<boolean> {
  switch (fault.fault) {
    case 'status': {
      const body = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body ?? { error: { message: `mock status ${fault.status}`, type: 'api_error', param: null, code: null } })
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers })
      res.end(body)
      return true
    }
    case 'reset':
      res.socket?.destroy()
      return true
    case 'hang':
      return true
    case 'html':
      res.writeHead(fault.status ?? 502, { 'content-type': 'text/html' })
      res.end('<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>')
      return true
    case 'wrong-content-type':
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('Service temporarily unavailable, please try later')
      return true
    case 'truncated-json':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis')
      return true
    case 'cut-body':
    case 'stall-body': {
      const body = '{"id":"chatcmpl-x","object":"chat.completion","created":1726012687,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]}'
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) })
      res.write(body.slice(0, 40))
      if (fault.fault === 'cut-body') setTimeout(() => res.socket?.destroy(), 20)
      return true
    }
    case 'partial':
      res.writeHead(200, { 'content-type': fault.contentType, 'cache-control': 'no-cache' })
      res.flushHeaders()
      for (const chunk of fault.chunks) res.write(chunk)
      return true
    case 'delay':
      await sleep(fault.ms)
      return false
  }
}
