import type {Row} from './columns.js'
import {openDatabase, translateSqliteError, type SqliteDatabase} from './database.js'
import {ADDRESS_MAX, AUDIT_DETAIL_MAX, AUDIT_ENTRIES_PER_TOKEN} from './limits.js'
import {issuerTable, keyTable, tokenTable} from './tables.js'
import type {
  ImportOutcome,
  InstanceBeat,
  LastUse,
  RevokeOutcome,
  RevocationSnapshot,
  RevokeResult,
  Store,
  StoredAuditEvent,
  StoredIssuer,
  StoredKey,
  StoredToken,
  StoreLocation,
  TokenChange,
  TokenState,
} from './types.js'


/** The embedded store: one SQLite file, every statement prepared once per connection. */
export class SqliteStore implements Store {
  static open(path: string): SqliteStore {
    return new SqliteStore(openDatabase(path), path)
  }

  readonly location: StoreLocation
  private readonly statements
  private dataVersion: number | undefined

  private constructor(
    private readonly db: SqliteDatabase,
    private readonly path: string,
  ) {
    this.statements = {
      getIssuer: db.prepare<[], Row>(`SELECT ${issuerTable.select} FROM issuer WHERE id = 1`),
      insertIssuer: db.prepare(`INSERT INTO issuer (id, ${issuerTable.columns}) VALUES (1, ${issuerTable.parameters})`),
      insertKey: db.prepare(`INSERT INTO signing_keys (${keyTable.columns}) VALUES (${keyTable.parameters})`),
      listKeys: db.prepare<[], Row>(`SELECT ${keyTable.select} FROM signing_keys ORDER BY created_at, rowid`),
      getKey: db.prepare<[string], Row>(`SELECT ${keyTable.select} FROM signing_keys WHERE kid = ?`),
      insertToken: db.prepare(`INSERT INTO tokens (${tokenTable.columns}) VALUES (${tokenTable.parameters})`),
      getToken: db.prepare<[string], Row>(`SELECT ${tokenTable.select} FROM tokens WHERE jti = ?`),
      // On every verification's path: plain columns only, so the row is returned as it comes.
      getTokenState: db.prepare<[string], TokenState>(`SELECT ${tokenTable.selectOf('name', 'revokedAt', 'account')} FROM tokens WHERE jti = ?`),
      tokenKid: db.prepare<[string], {kid: string}>('SELECT kid FROM tokens WHERE jti = ?'),
      listActive: db.prepare<{now: number}, Row>(
        `SELECT ${tokenTable.select} FROM tokens WHERE (revoked_at IS NULL OR revoked_at > @now) ORDER BY created_at, jti`,
      ),
      listAll: db.prepare<[], Row>(`SELECT ${tokenTable.select} FROM tokens ORDER BY created_at, jti`),
      // Both by the tokens_by_subject index: one subject's tokens without a scan of everyone's.
      listActiveOf: db.prepare<{subject: string; now: number}, Row>(
        `SELECT ${tokenTable.select} FROM tokens WHERE subject = @subject AND (revoked_at IS NULL OR revoked_at > @now)
         ORDER BY created_at, jti`,
      ),
      listAllOf: db.prepare<[string], Row>(`SELECT ${tokenTable.select} FROM tokens WHERE subject = ? ORDER BY created_at, jti`),
      // A revocation scheduled for later (a rotation's grace period) is brought forward.
      revoke: db.prepare<{at: number; jti: string}>(
        'UPDATE tokens SET revoked_at = @at WHERE jti = @jti AND (revoked_at IS NULL OR revoked_at > @at)',
      ),
      recordLastUsed: db.prepare<{at: number; ip: string | null; jti: string}>(
        `UPDATE tokens SET last_used_at = @at, last_used_ip = coalesce(@ip, last_used_ip)
         WHERE jti = @jti AND (last_used_at IS NULL OR last_used_at < @at)`,
      ),
      markRotated: db.prepare<{jti: string; next: string; at: number; now: number}>(
        `UPDATE tokens SET rotated_to = @next, revoked_at = @at
         WHERE jti = @jti AND rotated_to IS NULL AND (revoked_at IS NULL OR revoked_at > @now)`,
      ),
      // The descendants a cascade revokes: every token minted through @jti or through a token it
      // replaced by rotation (with @successors, also through those that replaced it), and so on down.
      revokeDescendants: db.prepare<{at: number; jti: string; successors: 0 | 1}, {jti: string}>(
        `WITH RECURSIVE
           line (jti) AS (
             SELECT @jti
             UNION SELECT tokens.jti FROM tokens JOIN line ON tokens.rotated_to = line.jti
             UNION SELECT tokens.rotated_to FROM tokens JOIN line ON tokens.jti = line.jti
               WHERE @successors AND tokens.rotated_to IS NOT NULL),
           descendants (jti) AS (
             SELECT tokens.jti FROM tokens JOIN line ON tokens.parent = line.jti
             UNION SELECT tokens.jti FROM tokens JOIN descendants ON tokens.parent = descendants.jti)
         UPDATE tokens SET revoked_at = @at
         WHERE jti IN descendants AND (revoked_at IS NULL OR revoked_at > @at)
         RETURNING jti`,
      ),
      successorOf: db.prepare<[string], {rotated_to: string | null}>('SELECT rotated_to FROM tokens WHERE jti = ?'),
      countUse: db.prepare<{jti: string; start: number}, {count: number}>(
        `INSERT INTO rate_windows (jti, window_start, count) VALUES (@jti, @start, 1)
         ON CONFLICT (jti) DO UPDATE SET
           count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
           window_start = excluded.window_start
         RETURNING count`,
      ),
      peekUse: db.prepare<{jti: string; start: number}, {count: number}>(
        'SELECT count FROM rate_windows WHERE jti = @jti AND window_start = @start',
      ),
      appendAudit: db.prepare<{jti: string; at: number; event: string; detail: string | null; count: number}>(
        'INSERT INTO audit (jti, at, event, detail, count) VALUES (@jti, @at, @event, @detail, @count)',
      ),
      trimAudit: db.prepare<{jti: string; keep: number}>(
        `DELETE FROM audit WHERE jti = @jti AND id <= (
           SELECT id FROM audit WHERE jti = @jti ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
      ),
      listAudit: db.prepare<[string], StoredAuditEvent>('SELECT jti, at, event, detail, count FROM audit WHERE jti = ? ORDER BY id'),
      keyEpoch: db.prepare<[], {key_epoch: number}>('SELECT key_epoch FROM issuer WHERE id = 1'),
      bumpKeyEpoch: db.prepare('UPDATE issuer SET key_epoch = key_epoch + 1 WHERE id = 1'),
      setActiveKid: db.prepare<[string]>('UPDATE issuer SET active_kid = ? WHERE id = 1'),
      retireKey: db.prepare<[number, string]>('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL'),
      setMaxLifetime: db.prepare<[number | null]>('UPDATE issuer SET max_lifetime = ? WHERE id = 1'),
      tokenChangesSince: db.prepare<[number, number], TokenChange>(
        `SELECT token_changes.seq, token_changes.jti, tokens.revoked_at AS revokedAt, tokens.expires_at AS expiresAt
         FROM token_changes JOIN tokens ON tokens.jti = token_changes.jti
         WHERE token_changes.seq > ? ORDER BY token_changes.seq LIMIT ?`,
      ),
      latestTokenChange: db.prepare<[], {seq: number}>('SELECT coalesce(max(seq), 0) AS seq FROM token_changes'),
      // Asked ten times a second by a serving process: prepared once, like every other statement.
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      revokedNotExpired: db.prepare<[number], RevocationSnapshot['revoked'][number]>(
        `SELECT jti, revoked_at AS revokedAt, expires_at AS expiresAt FROM tokens
         WHERE revoked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY jti`,
      ),
      recordInstance: db.prepare<InstanceBeat>(
        `INSERT INTO instances (id, host, pid, started_at, seen_at, cursor) VALUES (@id, @host, @pid, @startedAt, @seenAt, @cursor)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, cursor = excluded.cursor`,
      ),
      forgetInstances: db.prepare<[number]>('DELETE FROM instances WHERE seen_at < ?'),
      removeInstance: db.prepare<[string]>('DELETE FROM instances WHERE id = ?'),
      listInstances: db.prepare<[number], InstanceBeat>(
        `SELECT id, host, pid, started_at AS startedAt, seen_at AS seenAt, cursor FROM instances
         WHERE seen_at >= ? ORDER BY seen_at DESC, id`,
      ),
    }
    this.location = {kind: 'sqlite', where: path}
  }

  async getIssuer(): Promise<StoredIssuer | undefined> {
    return this.guard(() => this.ownIssuer())
  }

  async initIssuer(issuer: StoredIssuer, key: StoredKey): Promise<boolean> {
    return this.guard(() =>
      this.db
        .transaction(() => {
          if (this.statements.getIssuer.get()) return false
          this.statements.insertKey.run(keyTable.toRow(key))
          this.statements.insertIssuer.run(issuerTable.toRow(issuer))
          return true
        })
        .immediate(),
    )
  }

  async listKeys(): Promise<StoredKey[]> {
    return this.guard(() => this.statements.listKeys.all()).map((row) => keyTable.fromRow(row))
  }

  async insertToken(token: StoredToken, audit: readonly StoredAuditEvent[] = []): Promise<void> {
    this.guard(() =>
      this.db.transaction(() => {
        this.statements.insertToken.run(tokenTable.toRow(token))
        for (const event of audit) this.statements.appendAudit.run(event)
      })(),
    )
  }

  async importToken(token: StoredToken, key: StoredKey): Promise<ImportOutcome> {
    return this.guard(() =>
      this.db
        .transaction((): ImportOutcome => {
          const existing = this.statements.tokenKid.get(token.jti)
          if (existing) return existing.kid === key.kid ? 'already_imported' : 'token_conflict'

          const known = this.statements.getKey.get(key.kid)
          if (!known) {
            this.statements.insertKey.run(keyTable.toRow(key))
            this.statements.bumpKeyEpoch.run()
          }
          else if (!this.sameIssuerOf(keyTable.fromRow(known), key)) return 'key_conflict'

          this.statements.insertToken.run(tokenTable.toRow(token))
          return 'imported'
        })
        .immediate(),
    )
  }

  async getToken(jti: string): Promise<StoredToken | undefined> {
    const row = this.guard(() => this.statements.getToken.get(jti))
    return row && tokenTable.fromRow(row)
  }

  getTokenState(jti: string): TokenState | undefined {
    // Not through guard(): this runs on every verification, and a closure per call shows.
    try {
      return this.statements.getTokenState.get(jti)
    } catch (error) {
      throw translateSqliteError(error, this.path)
    }
  }

  async listTokens(options: {includeRevoked: boolean; subject?: string | undefined; now: number}): Promise<StoredToken[]> {
    const {subject, now} = options
    const rows = this.guard(() => {
      if (subject !== undefined) {
        return options.includeRevoked ? this.statements.listAllOf.all(subject) : this.statements.listActiveOf.all({subject, now})
      }

      return options.includeRevoked ? this.statements.listAll.all() : this.statements.listActive.all({now})
    })
    return rows.map((row) => tokenTable.fromRow(row))
  }

  async revokeToken(jti: string, revokedAt: number, options: {cascade?: boolean} = {}): Promise<RevokeResult> {
    return this.guard(() =>
      this.durably(() =>
        this.db
          .transaction((): RevokeResult => {
            const {changes} = this.statements.revoke.run({at: revokedAt, jti})
            const outcome: RevokeOutcome = changes === 1 ? 'revoked' : this.statements.tokenKid.get(jti) ? 'already_revoked' : 'not_found'
            if (outcome === 'not_found' || !options.cascade) return {outcome, descendants: []}
            const descendants = this.statements.revokeDescendants.all({at: revokedAt, jti, successors: 0}).map((row) => row.jti)
            return {outcome, descendants}
          })
          .immediate(),
      ),
    )
  }

  async recordLastUsed(uses: ReadonlyMap<string, LastUse>): Promise<void> {
    if (uses.size === 0) return
    this.guard(() =>
      this.db.transaction(() => {
        for (const [jti, {at, ip}] of uses) this.statements.recordLastUsed.run({at, ip: ip !== null && ip.length <= ADDRESS_MAX ? ip : null, jti})
      })(),
    )
  }

  async rotateToken(previous: string, next: StoredToken, revokeAt: number): Promise<boolean> {
    return this.guard(() =>
      this.durably(() =>
        this.db
          .transaction(() => {
            const {changes} = this.statements.markRotated.run({jti: previous, next: next.jti, at: revokeAt, now: next.createdAt})
            if (changes === 0) return false
            this.statements.insertToken.run(tokenTable.toRow(next))
            return true
          })
          .immediate(),
      ),
    )
  }

  async revokeSuccessors(jti: string, at: number): Promise<string[]> {
    // Most revoked tokens were never rotated: a flood of them must not cost a synced write each.
    if (!this.guard(() => this.statements.successorOf.get(jti)?.rotated_to)) return []
    return this.guard(() =>
      this.durably(() =>
        this.db
          .transaction(() => {
            const revoked: string[] = []
            const seen = new Set([jti])
            let next = this.statements.successorOf.get(jti)?.rotated_to ?? null
            while (next !== null && !seen.has(next)) {
              seen.add(next)
              if (this.statements.revoke.run({at, jti: next}).changes === 1) revoked.push(next)
              next = this.statements.successorOf.get(next)?.rotated_to ?? null
            }

            // Whatever was minted through the leaked token, or through any of its line, goes too.
            for (const row of this.statements.revokeDescendants.all({at, jti, successors: 1})) revoked.push(row.jti)
            return revoked
          })
          .immediate(),
      ),
    )
  }

  countUse(jti: string, windowStart: number): number {
    return this.guard(() => this.statements.countUse.get({jti, start: windowStart})!.count)
  }

  peekUse(jti: string, windowStart: number): number {
    return this.guard(() => this.statements.peekUse.get({jti, start: windowStart})?.count ?? 0)
  }

  async appendAudit(events: readonly StoredAuditEvent[]): Promise<void> {
    if (events.length === 0) return
    this.guard(() =>
      this.db.transaction(() => {
        const touched = new Set<string>()
        for (const event of events) {
          this.statements.appendAudit.run({...event, detail: event.detail?.slice(0, AUDIT_DETAIL_MAX) ?? null})
          touched.add(event.jti)
        }

        for (const jti of touched) this.statements.trimAudit.run({jti, keep: AUDIT_ENTRIES_PER_TOKEN})
      })(),
    )
  }

  async listAudit(jti: string): Promise<StoredAuditEvent[]> {
    return this.guard(() => this.statements.listAudit.all(jti))
  }

  keyEpoch(): number {
    return this.guard(() => this.statements.keyEpoch.get()?.key_epoch ?? 0)
  }

  async addActiveKey(key: StoredKey): Promise<void> {
    this.guard(() =>
      this.db
        .transaction(() => {
          this.statements.insertKey.run(keyTable.toRow(key))
          this.statements.setActiveKid.run(key.kid)
          this.statements.bumpKeyEpoch.run()
        })
        .immediate(),
    )
  }

  async retireKey(kid: string, at: number): Promise<'retired' | 'active' | 'not_found' | 'already_retired'> {
    return this.guard(() =>
      this.durably(() =>
        this.db
          .transaction(() => {
            const key = this.statements.getKey.get(kid)
            if (!key || keyTable.fromRow(key).foreign !== null) return 'not_found'
            if (this.ownIssuer()?.activeKid === kid) return 'active'
            if (this.statements.retireKey.run(at, kid).changes === 0) return 'already_retired'
            this.statements.bumpKeyEpoch.run()
            return 'retired'
          })
          .immediate(),
      ),
    )
  }

  async setMaxLifetime(seconds: number | null): Promise<void> {
    this.guard(() => this.statements.setMaxLifetime.run(seconds))
  }

  tokenChangesSince(cursor: number, limit: number): TokenChange[] {
    return this.guard(() => this.statements.tokenChangesSince.all(cursor, limit))
  }

  latestTokenChange(): number {
    return this.guard(() => this.statements.latestTokenChange.get()!.seq)
  }

  revocationSnapshot(now: number): RevocationSnapshot {
    // One read transaction: the list and the cursor describe the same moment.
    return this.guard(() =>
      this.db.transaction(() => ({cursor: this.statements.latestTokenChange.get()!.seq, revoked: this.statements.revokedNotExpired.all(now)}))(),
    )
  }

  async recordInstance(beat: InstanceBeat, forgetBefore: number): Promise<void> {
    this.guard(() =>
      this.db.transaction(() => {
        this.statements.recordInstance.run(beat)
        this.statements.forgetInstances.run(forgetBefore)
      })(),
    )
  }

  async removeInstance(id: string): Promise<void> {
    this.guard(() => this.statements.removeInstance.run(id))
  }

  async listInstances(seenSince: number): Promise<InstanceBeat[]> {
    return this.guard(() => this.statements.listInstances.all(seenSince))
  }

  /** SQLite's data_version moves when another connection commits, and never for this one's own. */
  changedElsewhere(): boolean {
    const version = this.guard(() => this.statements.dataVersion.get()!)
    const changed = version !== this.dataVersion
    this.dataVersion = version
    return changed
  }

  close(): void {
    if (this.db.open) this.db.close()
  }

  /** A lost revocation would let a token back in, so such a commit waits for the disk. */
  private durably<T>(operation: () => T): T {
    this.db.pragma('synchronous = FULL')
    try {
      return operation()
    } finally {
      this.db.pragma('synchronous = NORMAL')
    }
  }

  /** Whether a key already stored stands for the same issuer and audience as `key` claims. */
  private sameIssuerOf(known: StoredKey, key: StoredKey): boolean {
    const own = this.ownIssuer()
    const knownFor = known.foreign ?? own
    const keyFor = key.foreign ?? own
    return (
      knownFor !== undefined &&
      keyFor !== undefined &&
      knownFor.issuer === keyFor.issuer &&
      sameMembers(knownFor.audience, keyFor.audience)
    )
  }

  private ownIssuer(): StoredIssuer | undefined {
    const row = this.statements.getIssuer.get()
    return row && issuerTable.fromRow(row)
  }

  private guard<T>(operation: () => T): T {
    try {
      return operation()
    } catch (error) {
      throw translateSqliteError(error, this.path)
    }
  }
}

const sameMembers = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((entry) => b.includes(entry))
