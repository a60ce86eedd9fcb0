import type {Algorithm, AuditEvent, KeyStorage, MaybePromise, TokenGrant, TokenHistory, TokenState} from '../core/token.js'

export type {MaybePromise, TokenState}

/**
 * The store's view of the world: plain metadata, times as epoch milliseconds. Never a JWT,
 * never a signature, never a private key. Methods return promises so that a store over the
 * network (PostgreSQL) can take SQLite's place without changing the issuer.
 */

/** A token as kept: its grant and its history, times in epoch milliseconds, keyed by its jti. */
export interface StoredToken extends TokenGrant<number>, TokenHistory<number> {
  jti: string
}

export interface StoredAuditEvent extends AuditEvent<number> {
  jti: string
}

export interface LastUse {
  at: number
  ip: string | null
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
  maxLifetimeSeconds: number | null
  keyStorage: KeyStorage
}

export type RevokeOutcome = 'revoked' | 'not_found' | 'already_revoked'

/** A revocation's outcome for the token itself, and the descendants it revoked with it. */
export interface RevokeResult {
  outcome: RevokeOutcome
  descendants: string[]
}

/** `token_conflict`: another token has that id; `key_conflict`: that kid is known with another key or issuer. */
export type ImportOutcome = 'imported' | 'already_imported' | 'token_conflict' | 'key_conflict'

/** An entry of the change log: a token whose revocation changed, with its times as they are now. */
export interface TokenChange {
  seq: number
  jti: string
  revokedAt: number | null
  expiresAt: number | null
}

/** The revoked tokens that have not expired, and the change log's position they are consistent with. */
export interface RevocationSnapshot {
  cursor: number
  revoked: Array<{jti: string; revokedAt: number; expiresAt: number | null}>
}

/** A serving process as it last reported itself; times in epoch milliseconds. */
export interface InstanceBeat {
  id: string
  host: string
  pid: number
  startedAt: number
  seenAt: number
  /** How far into the change log its revocation state has read. */
  cursor: number
}

export interface StoreLocation {
  kind: 'sqlite' | 'postgresql'
  /** The file, or host:port/database (never a password). */
  where: string
}

export interface Store {
  readonly location: StoreLocation
  getIssuer(): Promise<StoredIssuer | undefined>
  /** Saves the issuer and its first key unless another process did first; false if it lost. */
  initIssuer(issuer: StoredIssuer, key: StoredKey): Promise<boolean>
  listKeys(): Promise<StoredKey[]>
  /** Inserts the token and its first trail entries in one transaction. */
  insertToken(token: StoredToken, audit?: readonly StoredAuditEvent[]): Promise<void>
  getToken(jti: string): Promise<StoredToken | undefined>
  /**
   * The one call on every verification's path, so a store that can answer synchronously (SQLite)
   * does, sparing each verification a promise and a microtask (measured: bench/verify.js).
   * Only for the issuer's own keys: a prepared token is checked against its whole record.
   */
  getTokenState(jti: string): MaybePromise<TokenState | undefined>
  /** Oldest first; only `subject`'s tokens when given. */
  /** A token whose revocation is still ahead (a rotation's grace period) counts as not revoked at `now`. */
  listTokens(options: {includeRevoked: boolean; subject?: string | undefined; now: number}): Promise<StoredToken[]>
  /**
   * Marks the token revoked, durably: a revocation must survive even a power loss. With
   * `cascade`, every token minted through it, and through those, goes in the same transaction.
   */
  revokeToken(jti: string, revokedAt: number, options?: {cascade?: boolean}): Promise<RevokeResult>
  /**
   * Stores a prepared token with the key that signed it, in one transaction. Idempotent: the
   * same token again changes nothing (not even a revocation since).
   */
  importToken(token: StoredToken, key: StoredKey): Promise<ImportOutcome>
  /** Raises last_used_at to each given time (with its address); never lowers it. */
  recordLastUsed(uses: ReadonlyMap<string, LastUse>): Promise<void>
  /**
   * Inserts `next` and marks `previous` rotated to it, to be revoked at `revokeAt`, in one
   * transaction; false when `previous` was revoked or rotated meanwhile.
   */
  rotateToken(previous: string, next: StoredToken, revokeAt: number): Promise<boolean>
  /**
   * Revokes, durably, every token rotated from `jti` that is not revoked yet, and every token
   * minted through any of that line; their ids. A token never rotated costs one read, never a write.
   */
  revokeSuccessors(jti: string, at: number): Promise<string[]>
  /**
   * Counts one use in the token's current fixed window (shared by every process on the store)
   * and returns the count so far in that window.
   */
  countUse(jti: string, windowStart: number): MaybePromise<number>
  /** The uses counted so far in the token's window starting at `windowStart`, counting none. */
  peekUse(jti: string, windowStart: number): MaybePromise<number>
  appendAudit(events: readonly StoredAuditEvent[]): Promise<void>
  listAudit(jti: string): Promise<StoredAuditEvent[]>
  /** Changes with every change to the key set; cheap enough to ask once a second. */
  keyEpoch(): MaybePromise<number>
  /** Adds a signing key and makes it the active one. */
  addActiveKey(key: StoredKey): Promise<void>
  /**
   * Only on a store that processes on several machines may share (PostgreSQL), each keeping its
   * own private keys, so that the issuer's active key may be one this process does not hold: adds
   * a signing key that is not the active one (this instance's own), listed for all. SQLite's file
   * belongs to one CAPE_HOME, whose processes all hold the same keys.
   */
  addKey?(key: StoredKey): Promise<void>
  /** 'retired', or why not: it is the active key, unknown, or retired already. */
  retireKey(kid: string, at: number): Promise<'retired' | 'active' | 'not_found' | 'already_retired'>
  setMaxLifetime(seconds: number | null): Promise<void>
  /** Changes to revocations after `cursor` (0: from the start), oldest first, at most `limit`. */
  tokenChangesSince(cursor: number, limit: number): MaybePromise<TokenChange[]>
  /** The change log's newest position. */
  latestTokenChange(): MaybePromise<number>
  revocationSnapshot(now: number): MaybePromise<RevocationSnapshot>
  /**
   * Asked on a short timer where it can be answered cheaply (SQLite): false when no other process
   * can have changed anything since the last call, true when the change log is worth reading. It
   * throws when the store cannot be heard. Without it the log is read once a second, and on a push.
   */
  changedElsewhere?(): MaybePromise<boolean>
  /** Records a serving process's report, replacing its last; reports older than `forgetBefore` go. */
  recordInstance(beat: InstanceBeat, forgetBefore: number): Promise<void>
  removeInstance(id: string): Promise<void>
  /** The processes that reported at or after `seenSince`, most recently seen first. */
  listInstances(seenSince: number): Promise<InstanceBeat[]>
  /** Where the store pushes changes (PostgreSQL's NOTIFY): `signal` on each, so they apply at once. */
  watchTokenChanges?(signal: () => void): void
  /** Lets go of the database; a store over the network ends its connections, so the process can exit. */
  close(): MaybePromise<void>
}
