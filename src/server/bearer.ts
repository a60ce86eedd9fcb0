import type {VerifyOptions, VerifyResult} from '../issuer/types.js'
import {HttpError} from './http-errors.js'

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
export async function authenticateHeader(
  header: string | undefined,
  verify: VerifyFunction,
  scope: string | undefined,
  account?: string | undefined,
  onResult?: (result: VerifyResult) => void,
): Promise<Principal> {
  const token = bearerToken(header)
  if (token === undefined) {
    throw new HttpError(401, 'unauthorized', 'this needs a bearer token: Authorization: Bearer <token>', {
      'www-authenticate': 'Bearer realm="cape"',
    })
  }

  const result = await verify(token, {requiredScopes: scope === undefined ? [] : [scope], account})
  onResult?.(result)
  if (result.valid) return result
  if (result.reason === 'insufficient_scope') throw insufficientScope(scope!)

  if (result.reason === 'wrong_account') {
    throw new HttpError(403, 'wrong_account', `this token is bound to another account than ${account}`)
  }

  throw unauthorized('invalid_token', `the bearer token is not valid: ${result.reason}`, result.reason)
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
