import {CapeError} from '../issuer/errors.js'

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
  headers: Headers
  /** The parsed JSON body; undefined for an empty one. */
  body: unknown
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

  const origin = new URL(url).origin
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let response: Response
  let text: string
  try {
    response = await fetch(url, {
      method: request.method ?? 'GET',
      headers,
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    })
    text = await response.text()
  } catch (error) {
    throw new CapeError('issuer_unavailable', `cannot reach the issuer at ${origin}: ${describeFetchError(error, timeoutMs)}`, {
      cause: error,
    })
  }

  if (text.length === 0) return {status: response.status, headers: response.headers, body: undefined}
  try {
    return {status: response.status, headers: response.headers, body: JSON.parse(text) as unknown}
  } catch {
    throw new CapeError(
      'issuer_unavailable',
      `the issuer at ${origin} answered ${response.status} with something other than JSON: is that a cape issuer?`,
    )
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if ((error as Error).name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`
  const cause = (error as {cause?: {code?: string; message?: string}}).cause
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is "cape issuer serve" running there?)'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'no such host'
    case 'ECONNRESET':
      return 'the connection was reset'
    default:
      return cause?.message ?? (error as Error).message
  }
}
