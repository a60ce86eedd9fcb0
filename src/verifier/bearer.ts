import type {RateLimitStatus, RequestContext, VerifyOptions, VerifyResult} from '../core/token.js'
import {HttpError} from '../core/http-error.js'

export type Principal = Extract<VerifyResult, {valid: true}>

/** Verifies a token with a required scope and, optionally, the account the request acts on. */
export type VerifyFunction = (token: string, options: VerifyOptions) => Promise<VerifyResult>

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i

/** The token in an `Authorization: Bearer ...` header, or undefined when the header is absent. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = BEARER.exec(header)
  if (!match) throw unauthorized('invalid_request', 'the Authorization header must be "Bearer <token>"', 'not a bearer token')
  return match[1]
}

/**
 * The principal behind an Authorization header, or the RFC 6750 error to answer with: 401 with
 * `WWW-Authenticate` when the token is missing or invalid, 403 when it is valid but may not do
 * this. The cape server and the middleware for other services answer alike through this.
 */
export interface Requirements {
  /** The scope the token must grant; none: any valid token. */
  scope?: string | undefined
  /** The account the request acts on. */
  account?: string | undefined
  /** The request itself, checked against the token's restrictions and rate limit. */
  request?: RequestContext | undefined
}

export async function authenticateHeader(
  header: string | undefined,
  verify: VerifyFunction,
  requirements: Requirements,
  onResult?: (result: VerifyResult) => void,
): Promise<Principal> {
  const {scope, account, request} = requirements
  const token = bearerToken(header)
  if (token === undefined) {
    throw new HttpError(401, 'unauthorized', 'this needs a bearer token: Authorization: Bearer <token>', {
      'www-authenticate': 'Bearer realm="cape"',
    })
  }

  const result = await verify(token, {requiredScopes: scope === undefined ? [] : [scope], account, request})
  onResult?.(result)
  if (result.valid) return result
  switch (result.reason) {
    case 'insufficient_scope':
      throw insufficientScope(scope!)
    case 'wrong_account':
      throw new HttpError(403, 'wrong_account', `this token is bound to another account than ${account}`)
    case 'ip_not_allowed':
      throw new HttpError(403, 'ip_not_allowed', `this token may not be used from ${request?.ip ?? 'an unknown address'}`)
    case 'referrer_not_allowed':
      throw new HttpError(403, 'referrer_not_allowed', 'this token may not be used from this page (Referer)')
    case 'rate_limited': {
      const status = result.rateLimit!
      const retryAfter = Math.max(1, status.resetAt - Math.floor(Date.now() / 1000))
      throw new HttpError(429, 'rate_limited', `this token's rate limit is used up; try again in ${retryAfter} s`, {
        'retry-after': String(retryAfter),
        ...rateLimitHeaders(status),
      })
    }
  }

  throw unauthorized('invalid_token', `the bearer token is not valid: ${result.reason}`, result.reason)
}

/** GitHub's X-RateLimit-* headers; Reset is in epoch seconds. */
export function rateLimitHeaders(status: RateLimitStatus): Record<string, string> {
  return {
    'x-ratelimit-limit': String(status.limit),
    'x-ratelimit-remaining': String(status.remaining),
    'x-ratelimit-reset': String(status.resetAt),
  }
}

export function insufficientScope(scope: string): HttpError {
  return new HttpError(403, 'insufficient_scope', `this needs a token with scope "${scope}"`, {
    'www-authenticate': `Bearer realm="cape", error="insufficient_scope", scope="${scope}"`,
  })
}

/** RFC 6750 §3.1: the error code goes both in the body and in WWW-Authenticate. */
function unauthorized(code: 'invalid_request' | 'invalid_token', message: string, description: string): HttpError {
  return new HttpError(401, code, message, {
    'www-authenticate': `Bearer realm="cape", error="${code}", error_description="${description}"`,
  }, description)
}
