import type {FastifyRequest} from 'fastify'

import type {IssuerClient, VerifyResult} from '../issuer/types.js'
import {HttpError} from './http-errors.js'
import type {Metrics} from './metrics.js'

export type Principal = Extract<VerifyResult, {valid: true}>

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i

/** The token in `Authorization: Bearer ...`, or undefined when the header is absent. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = BEARER.exec(header)
  if (!match) throw unauthorized('invalid_request', 'the Authorization header must be "Bearer <token>"', 'not a bearer token')
  return match[1]
}

/**
 * Verifies the bearer token and its scope. RFC 6750: 401 with `WWW-Authenticate` when the token
 * is missing or invalid, 403 `insufficient_scope` when it is valid but may not do this.
 */
export async function authenticate(
  request: FastifyRequest,
  issuer: IssuerClient,
  metrics: Metrics,
  scope: string,
): Promise<Principal> {
  const token = bearerToken(request)
  if (token === undefined) {
    throw new HttpError(401, 'unauthorized', 'this needs a bearer token: Authorization: Bearer <token>', {
      'www-authenticate': 'Bearer realm="cape"',
    })
  }

  const result = await issuer.verifyToken(token, {requiredScopes: [scope]})
  metrics.countVerification(result.valid ? 'valid' : result.reason)
  if (result.valid) return result
  if (result.reason === 'insufficient_scope') {
    throw new HttpError(403, 'insufficient_scope', `this needs a token with scope "${scope}"`, {
      'www-authenticate': `Bearer realm="cape", error="insufficient_scope", scope="${scope}"`,
    })
  }

  throw unauthorized('invalid_token', `the bearer token is not valid: ${result.reason}`, result.reason)
}

/** RFC 6750 §3.1: the error code goes both in the body and in WWW-Authenticate. */
function unauthorized(code: 'invalid_request' | 'invalid_token', message: string, description: string): HttpError {
  return new HttpError(401, code, message, {
    'www-authenticate': `Bearer realm="cape", error="${code}", error_description="${description}"`,
  })
}
