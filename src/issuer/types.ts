/** The contract every issuer honours, local (SQLite) or remote (HTTP): commands see only this. */
import type {Algorithm, AuditEvent, CreatedToken, IssuerSettings, Jwks, KeyStorage, RestrictionsInput, RevokedToken, RotatedToken, TokenRecord, VerifyOptions, VerifyResult} from '../core/token.js'

export {ALGORITHMS, SECRET_STORAGES} from '../core/token.js'
export type {
  Algorithm,
  VerifyReason,
  TokenStatus,
  TokenGrant,
  TokenHistory,
  TokenRecord,
  Restrictions,
  RateLimit,
  RateLimitStatus,
  RestrictionsInput,
  RevokedToken,
  RotatedToken,
  AuditEvent,
  CreatedToken,
  VerifyOptions,
  RequestContext,
  TokenClaims,
  VerifyResult,
  IssuerSettings,
  KeyStorage,
  SecretStorage,
  PublicJwk,
  Jwks,
  TokenState,
} from '../core/token.js'

export interface CreateTokenInput {
  name: string
  description?: string | undefined
  scopes?: readonly string[] | undefined
  /** Lifetime in seconds; no expiry when absent. */
  expiresInSeconds?: number | undefined
  subject?: string | undefined
  /** Binds the token to one account. */
  account?: string | undefined
  restrictions?: RestrictionsInput | undefined
  /** The token it is minted through: recorded as its parent. Set by the authority rule, not by users. */
  parent?: string | undefined
  /** Epoch milliseconds its expiry may not pass (the parent's own); set by the authority rule. */
  notAfter?: number | undefined
}

export interface RotateTokenInput {
  /** How long the old token keeps working; default: it is revoked at once. */
  graceSeconds?: number | undefined
  /** Epoch milliseconds the new token's expiry may not pass (the rotating caller's own). */
  notAfter?: number | undefined
}

export interface RevokeTokenOptions {
  /** Also revoke every token minted through it, and through those. */
  cascade?: boolean | undefined
}

export interface ListTokensOptions {
  includeRevoked?: boolean
  /** Only this subject's tokens. */
  subject?: string | undefined
  /** Only the tokens bound to this account. */
  account?: string | undefined
}

export interface InitIssuerInput {
  issuer?: string | undefined
  audience?: readonly string[] | undefined
  algorithm?: Algorithm | undefined
  defaultSubject?: string | undefined
  maxLifetimeSeconds?: number | undefined
  keyStorage?: KeyStorage | undefined
}

/** A signing key as `cape issuer keys list` shows it. */
export interface SigningKeyInfo {
  kid: string
  alg: Algorithm
  status: 'active' | 'verifying' | 'retired'
  createdAt: string
  retiredAt: string | null
}

export interface IssuerClient {
  createToken(input: CreateTokenInput): Promise<CreatedToken>
  listTokens(options?: ListTokensOptions): Promise<TokenRecord[]>
  /** The record of one token, revoked or not; `token_not_found` when there is none. */
  getToken(id: string): Promise<TokenRecord>
  /** Revokes the token; its record stays as a tombstone so verification says `revoked`. */
  revokeToken(id: string, options?: RevokeTokenOptions): Promise<RevokedToken>
  /** A new token in the old one's place; the old one is revoked now or after the grace period. */
  rotateToken(id: string, input?: RotateTokenInput): Promise<RotatedToken>
  /** The token's trail, oldest first. */
  tokenTrail(id: string): Promise<AuditEvent[]>
  verifyToken(token: string, options?: VerifyOptions): Promise<VerifyResult>
  jwks(): Promise<Jwks>
  /** Where `GET /v1/revocations` reads from; only an issuer that holds the store has one. */
  revocationFeed?(): RevocationSource
  close(): Promise<void>
}

/** A change to a token's revocation, at its position in the change log; times in epoch milliseconds. */
export interface RevocationChange {
  seq: number
  jti: string
  /** Null: not revoked (any more). In the future: revoked from then on (a rotation's grace period). */
  revokedAt: number | null
  expiresAt: number | null
}

/** The revoked tokens that have not expired, and the change log's position they are consistent with. */
export interface RevocationState {
  cursor: number
  revoked: Array<{jti: string; revokedAt: number; expiresAt: number | null}>
}

/**
 * The issuer's revocations as a stream: a snapshot, the changes after a cursor, and every batch
 * of changes as this process learns of it (one shared source, however many streams follow it).
 */
export interface RevocationSource {
  snapshot(): Promise<RevocationState>
  /** Oldest first, at most `limit`. */
  changesSince(cursor: number, limit: number): Promise<RevocationChange[]>
  latest(): Promise<number>
  subscribe(listener: (changes: readonly RevocationChange[]) => void): () => void
  /** Whether the store has been heard within the issuer's bound; when not, followers must not be reassured. */
  isFresh(): boolean
}

/** What `cape issuer status` shows: the store, its change log, and the processes serving from it. */
export interface IssuerStatus {
  store: {kind: 'sqlite' | 'postgresql'; where: string}
  issuer: string | null
  /** The change log's newest position. */
  changes: number
  instances: Array<{
    id: string
    host: string
    pid: number
    startedAt: string
    seenAt: string
    /** Changes it has not read yet: 0 when it is up to date. */
    behind: number
  }>
}

/**
 * What the issuer's owner does on this machine beyond the contract: set-up, policy, signing keys
 * and prepared tokens. `cape issuer ...` and `token export/import` use it.
 */
export interface IssuerAdmin {
  status(): Promise<IssuerStatus>
  settings(): Promise<IssuerSettings | undefined>
  init(input?: InitIssuerInput): Promise<IssuerSettings>
  setMaxLifetime(seconds: number | null): Promise<IssuerSettings>
  signingKeys(): Promise<SigningKeyInfo[]>
  rotateSigningKey(): Promise<SigningKeyInfo>
  retireSigningKey(kid: string): Promise<SigningKeyInfo>
  exportToken(id: string): Promise<string>
  importToken(bundle: string): Promise<{imported: boolean; token: TokenRecord}>
}

