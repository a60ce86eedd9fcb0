import {CapeError} from '../core/errors.js'
import {command, wording, type Wording} from '../core/wording.js'

/** How long one request to a remote issuer may take, unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5000

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * The base URL of a remote issuer, without a trailing slash. https, or plain http only to this
 * machine: a bearer token or a JWKS over plain http to another host is open to anyone on the path.
 */
export function checkIssuerUrl(value: string, what = 'issuer URL'): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new CapeError('invalid_issuer_url', `${what} "${value}" is not a URL: use e.g. https://cape.example.com`)
  }

  const loopback = LOOPBACK.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new CapeError(
      'invalid_issuer_url',
      `${what} ${url.origin} must use https (plain http is allowed only to this machine, e.g. http://127.0.0.1:3000)`,
    )
  }

  if (url.username || url.password || url.search || url.hash) {
    throw new CapeError('invalid_issuer_url', `${what} must not carry credentials, a query or a fragment`)
  }

  return url.href.replace(/\/+$/, '')
}

export interface RemoteRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  bearer?: string | undefined
  /** Sent as application/x-www-form-urlencoded (RFC 7662 and 7009 requests). */
  form?: Record<string, string>
  json?: unknown
  timeoutMs?: number | undefined
}

export interface RemoteResponse {
  status: number
  /** The parsed JSON body; undefined for an empty one. */
  body: unknown
}

/** Larger answers than this are no answer of a cape issuer's. */
const MAX_RESPONSE_BYTES = 1024 * 1024

// Keep-alive connections, one pool per protocol: a service asking the issuer on every request
// would otherwise pay a TCP (and TLS) handshake each time. node:http rather than fetch: measured,
// a keep-alive request costs about a quarter of fetch's CPU (bench/http.js, introspection row).
// Idle sockets are unref'd by the agent, so they never keep a CLI process alive. Loaded on first
// use: node:https brings TLS, which no local command should pay for at start-up.
let transports: Promise<Record<string, {request: typeof import('node:http').request; agent: import('node:http').Agent}>> | undefined
function transportFor(protocol: string) {
  transports ??= Promise.all([import('node:http'), import('node:https')]).then(([http, https]) => ({
    'http:': {request: http.request, agent: new http.Agent({keepAlive: true})},
    'https:': {request: https.request, agent: new https.Agent({keepAlive: true})},
  }))
  return transports.then((all) => all[protocol]!)
}

/** One request to a remote issuer. A network failure, a time-out or a non-JSON answer is `issuer_unavailable`. */
export async function requestJson(url: string, request: RemoteRequest = {}): Promise<RemoteResponse> {
  const headers: Record<string, string> = {accept: 'application/json'}
  if (request.bearer !== undefined) headers.authorization = `Bearer ${request.bearer}`
  let body: string | undefined
  if (request.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(request.form).toString()
  } else if (request.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(request.json)
  }

  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  const target = new URL(url)
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let status: number
  let text: string
  try {
    ;({status, text} = await send(target, {method: request.method ?? 'GET', headers, body, timeoutMs}))
  } catch (error) {
    throw new CapeError('issuer_unavailable', wording`cannot reach the issuer at ${target.origin}: ${describeNetworkError(error, timeoutMs)}`, {
      cause: error,
    })
  }

  if (text.length === 0) return {status, body: undefined}
  try {
    return {status, body: JSON.parse(text) as unknown}
  } catch {
    throw new CapeError(
      'issuer_unavailable',
      `the issuer at ${target.origin} answered ${status} with something other than JSON: is that a cape issuer?`,
    )
  }
}

async function send(
  target: URL,
  options: {method: string; headers: Record<string, string>; body: string | undefined; timeoutMs: number},
): Promise<{status: number; text: string}> {
  const {request, agent} = await transportFor(target.protocol)
  return new Promise((resolve, reject) => {
    const outgoing = request(
      target,
      {
        method: options.method,
        headers: options.headers,
        agent,
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (incoming) => {
        const chunks: Buffer[] = []
        let size = 0
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_RESPONSE_BYTES) {
            incoming.destroy(new Error(`an answer larger than ${MAX_RESPONSE_BYTES / 1024} KiB`))
            return
          }

          chunks.push(chunk)
        })
        incoming.on('error', reject)
        incoming.on('end', () => resolve({status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8')}))
      },
    )
    outgoing.on('error', reject)
    outgoing.end(options.body)
  })
}

function describeNetworkError(error: unknown, timeoutMs: number): string | Wording {
  const {name, code, message} = error as {name?: string; code?: string; message?: string}
  if (name === 'AbortError' || name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`
  switch (code) {
    case 'ECONNREFUSED':
      return wording`connection refused (is "${command('issuer', 'serve')}" running there?)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'no such host'
    case 'ECONNRESET':
      return 'the connection was reset'
    default:
      return message ?? String(error)
  }
}
