/** The contract every issuer honours, local (SQLite) or remote (HTTP): commands see only this. */

export type Algorithm = 'EdDSA' | 'ES256' | 'RS256'
export const ALGORITHMS: readonly Algorithm[] = ['EdDSA', 'ES256', 'RS256']

/** Why a token was refused, in the order the checks run. Stable: scripts switch on these. */
export type VerifyReason =
  | 'malformed'
  | 'unsupported_alg'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'not_yet_valid'
  | 'expired'
  | 'unknown_token'
  | 'revoked'
  | 'insufficient_scope'
  | 'wrong_account'

export type TokenStatus = 'active' | 'expired' | 'revoked'

/** What is kept about a token. Never the token itself. Times are ISO 8601 strings. */
export interface TokenRecord {
  id: string
  name: string
  description: string | null
  subject: string
  scopes: string[]
  kid: string
  status: TokenStatus
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
  /** Bound to this one account; null when the token may act on any. */
  account: string | null
}

export interface CreateTokenInput {
  name: string
  description?: string | undefined
  scopes?: readonly string[] | undefined
  /** Lifetime in seconds; no expiry when absent. */
  expiresInSeconds?: number | undefined
  subject?: string | undefined
  /** Binds the token to one account. */
  account?: string | undefined
}

export interface CreatedToken extends TokenRecord {
  /** The signed JWT. Shown once; it is not stored anywhere. */
  token: string
}

export interface ListTokensOptions {
  includeRevoked?: boolean
  /** Only this subject's tokens. */
  subject?: string | undefined
}

export interface VerifyOptions {
  /** Every one of these must be granted by the token's scope claim (or `*`). */
  requiredScopes?: readonly string[]
  /** The account the request acts on: a token bound to another one is `wrong_account`. */
  account?: string | undefined
}

export type TokenClaims = Record<string, unknown> & {
  aud: string | string[]
  iat: number
  iss: string
  jti: string
  nbf: number
  sub: string
  exp?: number
  scope?: string
  /** Only on a token bound to one account, so a verifier that has just the JWKS can enforce it. */
  account?: string
}

export type VerifyResult =
  | {
      valid: true
      id: string
      subject: string
      name: string
      /** Shared with the signature cache, hence frozen. */
      scopes: readonly string[]
      expiresAt: string | null
      account: string | null
      claims: Readonly<TokenClaims>
    }
  | {valid: false; reason: VerifyReason}

export interface IssuerSettings {
  issuer: string
  audience: string[]
  algorithm: Algorithm
  defaultSubject: string
}

export interface InitIssuerInput {
  issuer?: string | undefined
  audience?: readonly string[] | undefined
  algorithm?: Algorithm | undefined
  defaultSubject?: string | undefined
}

export interface PublicJwk {
  kty: string
  kid: string
  alg: Algorithm
  use: 'sig'
  [member: string]: unknown
}

export interface Jwks {
  keys: PublicJwk[]
}

export interface IssuerClient {
  createToken(input: CreateTokenInput): Promise<CreatedToken>
  listTokens(options?: ListTokensOptions): Promise<TokenRecord[]>
  /** The record of one token, revoked or not; `token_not_found` when there is none. */
  getToken(id: string): Promise<TokenRecord>
  /** Revokes the token; its record stays as a tombstone so verification says `revoked`. */
  revokeToken(id: string): Promise<TokenRecord>
  verifyToken(token: string, options?: VerifyOptions): Promise<VerifyResult>
  jwks(): Promise<Jwks>
  close(): Promise<void>
}
