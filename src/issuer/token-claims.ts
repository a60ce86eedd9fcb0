import type {StoredToken} from '../store/types.js'
import type {Algorithm, TokenClaims} from './types.js'

/** The iss and aud a token carries: this issuer's, or, for an imported token, its own issuer's. */
export interface ClaimedIssuer {
  issuer: string
  audience: readonly string[]
}

/**
 * The claims of the token a stored record stands for, in Cape's (alphabetical) order; `account`,
 * `exp` and `restrictions` only when they say something. Minting signs exactly these, and an
 * imported token must carry exactly these, so the two can never disagree.
 */
export function claimsFor(token: StoredToken, issuer: ClaimedIssuer): TokenClaims {
  const issuedAt = Math.floor(token.createdAt / 1000)
  return {
    ...(token.account === null ? {} : {account: token.account}),
    aud: [...issuer.audience],
    ...(token.expiresAt === null ? {} : {exp: token.expiresAt / 1000}),
    iat: issuedAt,
    iss: issuer.issuer,
    jti: token.jti,
    nbf: issuedAt,
    ...(token.restrictions === null ? {} : {restrictions: token.restrictions}),
    scope: token.scopes.join(' '),
    sub: token.subject,
  }
}

/** The protected header every cape signer writes. */
export function headerFor(alg: Algorithm, kid: string): Record<string, unknown> {
  return {alg, kid, typ: 'JWT'}
}

/** Whether two JSON values are the same, whatever the order of their members. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b)
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((entry) => canonical(entry)).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const members = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
    return `{${members.join(',')}}`
  }

  return JSON.stringify(value) ?? 'undefined'
}
