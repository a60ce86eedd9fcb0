import type {Algorithm} from '../issuer/types.js'

/**
 * The store's view of the world: plain metadata, times as epoch milliseconds. Never a JWT,
 * never a signature, never a private key. Methods return promises so that a store over the
 * network (PostgreSQL) can take SQLite's place without changing the issuer.
 */

export interface StoredToken {
  jti: string
  subject: string
  name: string
  description: string | null
  scopes: string[]
  kid: string
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  lastUsedAt: number | null
  /** The one account the token may act on; null for any. */
  account: string | null
}

/** The little the verifier needs on every call, fetched by the cheapest statement. */
export interface TokenState {
  name: string
  revokedAt: number | null
  account: string | null
}

export interface StoredKey {
  kid: string
  alg: Algorithm
  publicJwk: string
  createdAt: number
  retiredAt: number | null
  /** Set only for a key imported with a prepared token: the iss and aud its tokens carry. */
  foreign: {issuer: string; audience: string[]} | null
}

export interface StoredIssuer {
  issuer: string
  audience: string[]
  algorithm: Algorithm
  defaultSubject: string
  activeKid: string
  createdAt: number
}

export type MaybePromise<T> = T | Promise<T>

export type RevokeOutcome = 'revoked' | 'not_found' | 'already_revoked'

/** `token_conflict`: another token has that id; `key_conflict`: that kid is known with another key or issuer. */
export type ImportOutcome = 'imported' | 'already_imported' | 'token_conflict' | 'key_conflict'

export interface Store {
  getIssuer(): Promise<StoredIssuer | undefined>
  /** Saves the issuer and its first key unless another process did first; false if it lost. */
  initIssuer(issuer: StoredIssuer, key: StoredKey): Promise<boolean>
  listKeys(): Promise<StoredKey[]>
  insertToken(token: StoredToken): Promise<void>
  getToken(jti: string): Promise<StoredToken | undefined>
  /**
   * The one call on every verification's path, so a store that can answer synchronously (SQLite)
   * does, sparing each verification a promise and a microtask (measured: bench/verify.js).
   * A token is known only together with the key that signed it: another kid finds nothing.
   */
  getTokenState(jti: string, kid: string): MaybePromise<TokenState | undefined>
  /** Oldest first; only `subject`'s tokens when given. */
  listTokens(options: {includeRevoked: boolean; subject?: string | undefined}): Promise<StoredToken[]>
  /** Marks the token revoked, durably: a revocation must survive even a power loss. */
  revokeToken(jti: string, revokedAt: number): Promise<RevokeOutcome>
  /**
   * Stores a prepared token with the key that signed it, in one transaction. Idempotent: the
   * same token again changes nothing (not even a revocation since).
   */
  importToken(token: StoredToken, key: StoredKey): Promise<ImportOutcome>
  /** Raises last_used_at to each given time; never lowers it. */
  recordLastUsed(uses: ReadonlyMap<string, number>): Promise<void>
  close(): void
}
