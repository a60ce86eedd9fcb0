/** The token and what is said about it: the types every layer shares. */

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
  | 'ip_not_allowed'
  | 'referrer_not_allowed'
  | 'rate_limited'

/** `invalid`: a stored row whose times cannot be shown (written before they were bounded); it can still be deleted. */
export type TokenStatus = 'active' | 'expired' | 'revoked' | 'invalid'

/**
 * What a token was given when it was made: most of it is signed into it, none of it changes.
 * `Time` is how times are written: epoch milliseconds in the store, ISO 8601 strings to callers.
 */
export interface TokenGrant<Time> {
  name: string
  description: string | null
  subject: string
  scopes: string[]
  kid: string
  createdAt: Time
  expiresAt: Time | null
  /** Bound to this one account; null when the token may act on any. */
  account: string | null
  restrictions: Restrictions | null
  /** The token it was minted through (over the API); null when the issuer's owner made it. */
  parent: string | null
}

/** What has happened to a token since it was made; a new token has none of it (all null). */
export interface TokenHistory<Time> {
  /** May lie in the future: a rotated token stays valid until the end of its grace period. */
  revokedAt: Time | null
  lastUsedAt: Time | null
  /** The address of the last use that came with one (a server request). */
  lastUsedIp: string | null
  /** The token that replaced this one, when it was rotated. */
  rotatedTo: string | null
}

/** What is kept about a token, as callers see it. Never the token itself. */
export interface TokenRecord extends TokenGrant<string>, TokenHistory<string> {
  id: string
  status: TokenStatus
}

/** Limits on where and how often a token may be used (EmailEngine's restrictions). */
export interface Restrictions {
  /** IPv4/IPv6 addresses and CIDR ranges; a request from anywhere else is `ip_not_allowed`. */
  addresses?: string[]
  /** Patterns, `*` matching anything, against the whole Referer URL; no match (or none sent): `referrer_not_allowed`. */
  referrers?: string[]
  rateLimit?: RateLimit
}

/** At most `maxRequests` uses per `timeWindow` seconds, counted in the store for every process. */
export interface RateLimit {
  maxRequests: number
  timeWindow: number
}

/** Where a rate-limited token stands in its current window. */
export interface RateLimitStatus {
  limit: number
  remaining: number
  /** Epoch seconds at which the window resets. */
  resetAt: number
}

/** Restrictions as asked for; `false` (the HTTP API's) or an empty list means none. */
export interface RestrictionsInput {
  addresses?: readonly string[] | false | undefined
  referrers?: readonly string[] | false | undefined
  rateLimit?: RateLimit | false | undefined
}

export interface RevokedToken extends TokenRecord {
  /** With `cascade`: the ids of the descendants revoked with it (already revoked ones not counted). */
  cascaded?: string[]
}

export interface RotatedToken extends CreatedToken {
  /** The old token, as it stands now: revoked, or to be at the end of its grace period. */
  previous: TokenRecord
}

/** One entry of a token's trail; `Time` as in TokenGrant. */
export interface AuditEvent<Time = string> {
  at: Time
  event: 'created' | 'imported' | 'rotated' | 'revoked' | 'reuse_detected' | 'refused'
  detail: string | null
  /** Identical events within a second are one entry with a count. */
  count: number
}

export interface CreatedToken extends TokenRecord {
  /** The signed JWT. Shown once; it is not stored anywhere. */
  token: string
}

export interface VerifyOptions {
  /** Every one of these must be granted by the token's scope claim (or `*`). */
  requiredScopes?: readonly string[]
  /** The account the request acts on: a token bound to another one is `wrong_account`. */
  account?: string | undefined
  /**
   * The request the token came with. Given, it is checked against the token's restrictions and
   * counted against its rate limit; without it (a token checked outside any request) they do not apply.
   */
  request?: RequestContext | undefined
  /**
   * 'use' (the default): the token is presented to do something, so it counts for last-used,
   * rate limits, the trail and reuse detection. 'check': its owner asks whether it holds
   * (`cape token verify`); nothing is recorded and nothing is triggered, and a rate limit is
   * read, not counted.
   */
  purpose?: 'use' | 'check' | undefined
}

export interface RequestContext {
  /** The client's address; a token restricted to addresses refuses a request without one. */
  ip?: string | undefined
  /** The Referer header; undefined or null when the request had none. */
  referrer?: string | null | undefined
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
  /** Only on a restricted token: signed, so every verifier knows them without asking the store. */
  restrictions?: Restrictions
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
      /** Only for a rate-limited token checked with a request. */
      rateLimit?: RateLimitStatus
    }
  | {
      valid: false
      reason: VerifyReason
      rateLimit?: RateLimitStatus
      /** For a check of a token rotated away: the token that replaced it. */
      successor?: string
    }

export interface IssuerSettings {
  issuer: string
  audience: string[]
  algorithm: Algorithm
  defaultSubject: string
  /** No token may live longer, in seconds; null for no limit. */
  maxLifetimeSeconds: number | null
  /** Where the private signing keys are kept. */
  keyStorage: KeyStorage
}

/** Where a secret is kept: a 0600 file, or the OS keychain. Signing keys and a caller's saved token alike. */
export const SECRET_STORAGES = ['file', 'keychain'] as const
export type SecretStorage = (typeof SECRET_STORAGES)[number]
/** Where the issuer's private signing keys are kept. */
export type KeyStorage = SecretStorage

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

/** The little the verifier needs of a stored token on every call; times in epoch milliseconds. */
export type TokenState = Pick<TokenGrant<number>, 'name' | 'account'> & Pick<TokenHistory<number>, 'revokedAt'>

/** What a store or a remote issuer answers: at once when it can (SQLite), later when it must. */
export type MaybePromise<T> = T | Promise<T>
