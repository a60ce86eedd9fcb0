import type {Algorithm} from '../issuer/types.js'
import {openDatabase, translateSqliteError, type SqliteDatabase} from './database.js'
import type {ImportOutcome, RevokeOutcome, Store, StoredIssuer, StoredKey, StoredToken, TokenState} from './types.js'

interface TokenRow {
  jti: string
  subject: string
  name: string
  description: string | null
  scopes: string
  kid: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  last_used_at: number | null
  account: string | null
}

interface IssuerRow {
  issuer: string
  audience: string
  algorithm: string
  default_subject: string
  active_kid: string
  created_at: number
}

interface KeyRow {
  kid: string
  alg: string
  public_jwk: string
  created_at: number
  retired_at: number | null
  foreign_issuer: string | null
  foreign_audience: string | null
}

const KEY_COLUMNS = 'kid, alg, public_jwk, created_at, retired_at, foreign_issuer, foreign_audience'
const TOKEN_COLUMNS = 'jti, subject, name, description, scopes, kid, created_at, expires_at, revoked_at, last_used_at, account'

/** The embedded store: one SQLite file, every statement prepared once per connection. */
export class SqliteStore implements Store {
  static open(path: string): SqliteStore {
    return new SqliteStore(openDatabase(path), path)
  }

  private readonly statements

  private constructor(
    private readonly db: SqliteDatabase,
    private readonly path: string,
  ) {
    this.statements = {
      getIssuer: db.prepare<[], IssuerRow>(
        'SELECT issuer, audience, algorithm, default_subject, active_kid, created_at FROM issuer WHERE id = 1',
      ),
      insertIssuer: db.prepare(
        `INSERT INTO issuer (id, issuer, audience, algorithm, default_subject, active_kid, created_at)
         VALUES (1, @issuer, @audience, @algorithm, @default_subject, @active_kid, @created_at)`,
      ),
      insertKey: db.prepare(
        `INSERT INTO signing_keys (kid, alg, public_jwk, created_at, retired_at, foreign_issuer, foreign_audience)
         VALUES (@kid, @alg, @public_jwk, @created_at, @retired_at, @foreign_issuer, @foreign_audience)`,
      ),
      listKeys: db.prepare<[], KeyRow>(`SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid`),
      getKey: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM signing_keys WHERE kid = ?`),
      insertToken: db.prepare(
        `INSERT INTO tokens (${TOKEN_COLUMNS})
         VALUES (@jti, @subject, @name, @description, @scopes, @kid, @created_at, @expires_at, @revoked_at, @last_used_at, @account)`,
      ),
      getToken: db.prepare<[string], TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE jti = ?`),
      // Columns named as TokenState's fields: the row is returned as it comes.
      getTokenState: db.prepare<[string, string], TokenState>(
        'SELECT name, revoked_at AS revokedAt, account FROM tokens WHERE jti = ? AND kid = ?',
      ),
      tokenKid: db.prepare<[string], {kid: string}>('SELECT kid FROM tokens WHERE jti = ?'),
      listActive: db.prepare<[], TokenRow>(
        `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, jti`,
      ),
      listAll: db.prepare<[], TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, jti`),
      // Both by the tokens_by_subject index: one subject's tokens without a scan of everyone's.
      listActiveOf: db.prepare<[string], TokenRow>(
        `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE subject = ? AND revoked_at IS NULL ORDER BY created_at, jti`,
      ),
      listAllOf: db.prepare<[string], TokenRow>(
        `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE subject = ? ORDER BY created_at, jti`,
      ),
      revoke: db.prepare<[number, string]>('UPDATE tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL'),
      recordLastUsed: db.prepare<[number, string, number]>(
        'UPDATE tokens SET last_used_at = ? WHERE jti = ? AND (last_used_at IS NULL OR last_used_at < ?)',
      ),
    }
  }

  async getIssuer(): Promise<StoredIssuer | undefined> {
    const row = this.guard(() => this.statements.getIssuer.get())
    return row && toIssuer(row)
  }

  async initIssuer(issuer: StoredIssuer, key: StoredKey): Promise<boolean> {
    return this.guard(() =>
      this.db
        .transaction(() => {
          if (this.statements.getIssuer.get()) return false
          this.statements.insertKey.run(keyRow(key))
          this.statements.insertIssuer.run({
            issuer: issuer.issuer,
            audience: JSON.stringify(issuer.audience),
            algorithm: issuer.algorithm,
            default_subject: issuer.defaultSubject,
            active_kid: issuer.activeKid,
            created_at: issuer.createdAt,
          })
          return true
        })
        .immediate(),
    )
  }

  async listKeys(): Promise<StoredKey[]> {
    return this.guard(() => this.statements.listKeys.all()).map((row) => toKey(row))
  }

  async insertToken(token: StoredToken): Promise<void> {
    this.guard(() => this.statements.insertToken.run(tokenRow(token)))
  }

  async importToken(token: StoredToken, key: StoredKey): Promise<ImportOutcome> {
    return this.guard(() =>
      this.db
        .transaction((): ImportOutcome => {
          const existing = this.statements.tokenKid.get(token.jti)
          if (existing) return existing.kid === key.kid ? 'already_imported' : 'token_conflict'

          const known = this.statements.getKey.get(key.kid)
          if (!known) this.statements.insertKey.run(keyRow(key))
          else if (!this.sameIssuerOf(toKey(known), key)) return 'key_conflict'

          this.statements.insertToken.run(tokenRow(token))
          return 'imported'
        })
        .immediate(),
    )
  }

  async getToken(jti: string): Promise<StoredToken | undefined> {
    const row = this.guard(() => this.statements.getToken.get(jti))
    return row && toToken(row)
  }

  getTokenState(jti: string, kid: string): TokenState | undefined {
    // Not through guard(): this runs on every verification, and a closure per call shows.
    try {
      return this.statements.getTokenState.get(jti, kid)
    } catch (error) {
      throw translateSqliteError(error, this.path)
    }
  }

  async listTokens(options: {includeRevoked: boolean; subject?: string | undefined}): Promise<StoredToken[]> {
    const {subject} = options
    const rows = this.guard(() => {
      if (subject !== undefined) {
        return (options.includeRevoked ? this.statements.listAllOf : this.statements.listActiveOf).all(subject)
      }

      return (options.includeRevoked ? this.statements.listAll : this.statements.listActive).all()
    })
    return rows.map((row) => toToken(row))
  }

  async revokeToken(jti: string, revokedAt: number): Promise<RevokeOutcome> {
    return this.guard(() => {
      // A lost revocation would let a token back in, so this commit waits for the disk.
      this.db.pragma('synchronous = FULL')
      try {
        const {changes} = this.statements.revoke.run(revokedAt, jti)
        if (changes === 1) return 'revoked'
        return this.statements.tokenKid.get(jti) ? 'already_revoked' : 'not_found'
      } finally {
        this.db.pragma('synchronous = NORMAL')
      }
    })
  }

  async recordLastUsed(uses: ReadonlyMap<string, number>): Promise<void> {
    if (uses.size === 0) return
    this.guard(() =>
      this.db.transaction(() => {
        for (const [jti, at] of uses) this.statements.recordLastUsed.run(at, jti, at)
      })(),
    )
  }

  close(): void {
    if (this.db.open) this.db.close()
  }

  /** Whether a key already stored stands for the same issuer and audience as `key` claims. */
  private sameIssuerOf(known: StoredKey, key: StoredKey): boolean {
    const own = this.statements.getIssuer.get()
    const knownFor = known.foreign ?? (own && {issuer: own.issuer, audience: JSON.parse(own.audience) as string[]})
    const keyFor = key.foreign ?? (own && {issuer: own.issuer, audience: JSON.parse(own.audience) as string[]})
    return (
      knownFor !== undefined &&
      keyFor !== undefined &&
      knownFor.issuer === keyFor.issuer &&
      sameMembers(knownFor.audience, keyFor.audience)
    )
  }

  private guard<T>(operation: () => T): T {
    try {
      return operation()
    } catch (error) {
      throw translateSqliteError(error, this.path)
    }
  }
}

function tokenRow(token: StoredToken): TokenRow {
  return {
    jti: token.jti,
    subject: token.subject,
    name: token.name,
    description: token.description,
    scopes: token.scopes.join(' '),
    kid: token.kid,
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    revoked_at: token.revokedAt,
    last_used_at: token.lastUsedAt,
    account: token.account,
  }
}

function keyRow(key: StoredKey): KeyRow {
  return {
    kid: key.kid,
    alg: key.alg,
    public_jwk: key.publicJwk,
    created_at: key.createdAt,
    retired_at: key.retiredAt,
    foreign_issuer: key.foreign?.issuer ?? null,
    foreign_audience: key.foreign ? JSON.stringify(key.foreign.audience) : null,
  }
}

const sameMembers = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((entry) => b.includes(entry))

function toToken(row: TokenRow): StoredToken {
  return {
    jti: row.jti,
    subject: row.subject,
    name: row.name,
    description: row.description,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    kid: row.kid,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    account: row.account,
  }
}

function toIssuer(row: IssuerRow): StoredIssuer {
  return {
    issuer: row.issuer,
    audience: JSON.parse(row.audience) as string[],
    algorithm: row.algorithm as Algorithm,
    defaultSubject: row.default_subject,
    activeKid: row.active_kid,
    createdAt: row.created_at,
  }
}

function toKey(row: KeyRow): StoredKey {
  return {
    kid: row.kid,
    alg: row.alg as Algorithm,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
    foreign:
      row.foreign_issuer === null
        ? null
        : {issuer: row.foreign_issuer, audience: JSON.parse(row.foreign_audience ?? '[]') as string[]},
  }
}
