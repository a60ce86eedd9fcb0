import type postgres from 'postgres'

import {CapeError} from '../core/errors.js'
import type {Row} from './columns.js'
import {POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION} from './postgres-migrations.js'
import {describeDatabaseUrl, isRetryable, translatePostgresError} from './postgres-errors.js'
import {ADDRESS_MAX, AUDIT_DETAIL_MAX, AUDIT_ENTRIES_PER_TOKEN} from './limits.js'
import {issuerTable, keyTable, tokenTable} from './tables.js'
import type {
  ImportOutcome,
  InstanceBeat,
  LastUse,
  RevokeOutcome,
  RevokeResult,
  Store,
  StoredAuditEvent,
  StoredIssuer,
  StoredKey,
  StoredToken,
  StoreLocation,
  TokenChange,
  RevocationSnapshot,
  TokenState,
} from './types.js'

/** BIGINT columns (epoch milliseconds, counts) come back as numbers: every value cape stores is far below 2^53. */
type Types = {bigint: number}
type Sql = postgres.Sql<Types>
type Tx = postgres.TransactionSql<Types>
type Value = string | number | null | readonly string[] | readonly number[] | readonly (string | null)[]
type Parameter = Value | boolean

const INT8 = 20
const POOL_SIZE = 10
const CONNECT_TIMEOUT_SECONDS = 10
/** As SQLite's busy timeout: a lock not had within this is store_busy, not a hang. */
const LOCK_TIMEOUT_MS = 5000
/** A transaction PostgreSQL aborted to break a deadlock or a serialization conflict runs again, this often at most. */
const ATTEMPTS = 3

const issuers = issuerTable.in('postgres')
const keys = keyTable.in('postgres')
const tokens = tokenTable.in('postgres')
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Every statement, as constant text: values only ever travel as parameters. Each is prepared
 * once per connection. The column lists, and the numbered parameters of a whole row, come from
 * the column maps (tables.ts), as SQLite's do. Exported for bench/pg-driver.js, which times the
 * hot ones on each driver.
 */
export const SQL = {
  schemaVersion: 'SELECT version FROM schema_version WHERE id = 1',
  getIssuer: `SELECT ${issuers.select} FROM issuer WHERE id = 1`,
  // Loses quietly to a process that set the issuer up first: it waits for that one's commit.
  insertIssuer: `INSERT INTO issuer (id, ${issuers.columns}) VALUES (1, ${issuers.parameters}) ON CONFLICT (id) DO NOTHING RETURNING id`,
  lockIssuer: 'SELECT active_kid FROM issuer WHERE id = 1 FOR UPDATE',
  insertKey: `INSERT INTO signing_keys (${keys.columns}) VALUES (${keys.parameters})`,
  listKeys: `SELECT ${keys.select} FROM signing_keys ORDER BY created_at, added`,
  getKey: `SELECT ${keys.select} FROM signing_keys WHERE kid = $1`,
  insertToken: `INSERT INTO tokens (${tokens.columns}) VALUES (${tokens.parameters})`,
  getToken: `SELECT ${tokens.select} FROM tokens WHERE jti = $1`,
  getTokenState: `SELECT ${tokens.selectOf('name', 'revokedAt', 'account')} FROM tokens WHERE jti = $1`,
  tokenKid: 'SELECT kid FROM tokens WHERE jti = $1',
  listActive: `SELECT ${tokens.select} FROM tokens WHERE (revoked_at IS NULL OR revoked_at > $1) ORDER BY created_at, jti`,
  listAll: `SELECT ${tokens.select} FROM tokens ORDER BY created_at, jti`,
  listActiveOf: `SELECT ${tokens.select} FROM tokens WHERE subject = $1 AND (revoked_at IS NULL OR revoked_at > $2) ORDER BY created_at, jti`,
  listAllOf: `SELECT ${tokens.select} FROM tokens WHERE subject = $1 ORDER BY created_at, jti`,
  // A revocation scheduled for later (a rotation's grace period) is brought forward.
  revoke: 'UPDATE tokens SET revoked_at = $1 WHERE jti = $2 AND (revoked_at IS NULL OR revoked_at > $1) RETURNING jti',
  // Sorted by id, so that two processes writing overlapping batches take the row locks in one order.
  recordLastUsed: `UPDATE tokens SET last_used_at = used.at, last_used_ip = coalesce(used.ip, tokens.last_used_ip)
                   FROM unnest($1::text[], $2::bigint[], $3::text[]) AS used (jti, at, ip)
                   WHERE tokens.jti = used.jti AND (tokens.last_used_at IS NULL OR tokens.last_used_at < used.at)`,
  markRotated: `UPDATE tokens SET rotated_to = $2, revoked_at = $3
                WHERE jti = $1 AND rotated_to IS NULL AND (revoked_at IS NULL OR revoked_at > $4) RETURNING jti`,
  // The descendants a cascade revokes: every token minted through $2 or through a token it replaced
  // by rotation (with $3, also through those that replaced it), and so on down. PostgreSQL allows
  // one recursive reference per step, so both directions of the line are one lateral union.
  revokeDescendants: `WITH RECURSIVE
      line (jti) AS (
        SELECT $2::text COLLATE "C"
        UNION
        SELECT step.jti FROM line, LATERAL (
          SELECT tokens.jti FROM tokens WHERE tokens.rotated_to = line.jti
          UNION ALL
          SELECT tokens.rotated_to FROM tokens WHERE $3::boolean AND tokens.jti = line.jti AND tokens.rotated_to IS NOT NULL
        ) AS step),
      descendants (jti) AS (
        SELECT tokens.jti FROM tokens JOIN line ON tokens.parent = line.jti
        UNION SELECT tokens.jti FROM tokens JOIN descendants ON tokens.parent = descendants.jti)
    UPDATE tokens SET revoked_at = $1
    WHERE jti IN (SELECT jti FROM descendants) AND (revoked_at IS NULL OR revoked_at > $1)
    RETURNING jti`,
  successorOf: 'SELECT rotated_to FROM tokens WHERE jti = $1',
  // One statement, so the count is exact however many processes count at once.
  countUse: `INSERT INTO rate_windows (jti, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (jti) DO UPDATE SET
               count = CASE WHEN rate_windows.window_start = excluded.window_start THEN rate_windows.count + 1 ELSE 1 END,
               window_start = excluded.window_start
             RETURNING count`,
  peekUse: 'SELECT count FROM rate_windows WHERE jti = $1 AND window_start = $2',
  appendAudit: `INSERT INTO audit (jti, at, event, detail, count)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::integer[])`,
  trimAudit: `DELETE FROM audit WHERE id IN (
                SELECT id FROM (
                  SELECT id, row_number() OVER (PARTITION BY jti ORDER BY id DESC) AS newer FROM audit WHERE jti = ANY ($1::text[])
                ) AS ranked WHERE newer > $2)`,
  listAudit: 'SELECT jti, at, event, detail, count FROM audit WHERE jti = $1 ORDER BY id',
  keyEpoch: 'SELECT key_epoch FROM issuer WHERE id = 1',
  bumpKeyEpoch: 'UPDATE issuer SET key_epoch = key_epoch + 1 WHERE id = 1',
  setActiveKid: 'UPDATE issuer SET active_kid = $1, key_epoch = key_epoch + 1 WHERE id = 1',
  retireKey: 'UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL RETURNING kid',
  setMaxLifetime: 'UPDATE issuer SET max_lifetime = $1 WHERE id = 1',
  tokenChangesSince: `SELECT token_changes.seq, token_changes.jti, tokens.revoked_at AS "revokedAt", tokens.expires_at AS "expiresAt"
                      FROM token_changes JOIN tokens ON tokens.jti = token_changes.jti
                      WHERE token_changes.seq > $1 ORDER BY token_changes.seq LIMIT $2`,
  latestTokenChange: 'SELECT coalesce(max(seq), 0) AS seq FROM token_changes',
  revokedNotExpired: `SELECT jti, revoked_at AS "revokedAt", expires_at AS "expiresAt" FROM tokens
                      WHERE revoked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > $1) ORDER BY jti`,
  recordInstance: `INSERT INTO instances (id, host, pid, started_at, seen_at, cursor) VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, cursor = excluded.cursor`,
  forgetInstances: 'DELETE FROM instances WHERE seen_at < $1',
  removeInstance: 'DELETE FROM instances WHERE id = $1',
  listInstances: `SELECT id, host, pid, started_at AS "startedAt", seen_at AS "seenAt", cursor FROM instances
                  WHERE seen_at >= $1 ORDER BY seen_at DESC, id`,
  // Of several processes importing at once, one at a time: each reads, then writes what it read was missing.
  lockImports: "SELECT pg_advisory_xact_lock(hashtext('cape:import'))",
  lockMigrations: "SELECT pg_advisory_xact_lock(hashtext('cape:migrate'))",
  // The session runs with synchronous_commit off (see open); these transactions wait for the disk.
  durable: 'SET LOCAL synchronous_commit TO on',
} as const

/** Thrown inside a transaction to roll it back and answer `false`. */
class RolledBack extends Error {}

/**
 * The store on a PostgreSQL database shared by any number of processes: the same tables and the
 * same answers as SQLite's. The session commits without waiting for the disk, as SQLite's
 * `synchronous = NORMAL` does, so the rate-limit count, last-used times and the trail cost no
 * flush; whatever must survive a crash of the database server (a token printed, a revocation, a
 * key) is committed `durably`.
 */
export class PostgresStore implements Store {
  /** Connects lazily (the driver is imported only here), migrates, and checks the database answers. */
  static async open(url: string): Promise<PostgresStore> {
    const where = describeDatabaseUrl(url)
    if (where === undefined) throw new CapeError('config_invalid', 'the database URL is not a valid postgres:// URL')
    const {default: connect} = await import('postgres')
    // The URL's own settings (sslmode, connect_timeout, application_name...) win over these defaults.
    const inUrl = new URL(url).searchParams
    const sql = connect(url, {
      max: inUrl.has('max') ? undefined : POOL_SIZE,
      connect_timeout: inUrl.has('connect_timeout') ? undefined : CONNECT_TIMEOUT_SECONDS,
      // Built-in types only: no catalogue query on each new connection.
      fetch_types: false,
      onnotice: false,
      types: {bigint: {to: INT8, from: [INT8], serialize: (value: number) => String(value), parse: (raw: string) => Number(raw)}},
      connection: {application_name: 'cape', synchronous_commit: 'off', lock_timeout: LOCK_TIMEOUT_MS},
    })
    const store = new PostgresStore(sql, where)
    try {
      await store.migrate()
    } catch (error) {
      await sql.end({timeout: 0})
      throw translatePostgresError(error, where)
    }

    return store
  }

  readonly location: StoreLocation

  private constructor(
    private readonly sql: Sql,
    private readonly where: string,
  ) {
    this.location = {kind: 'postgresql', where}
  }

  async getIssuer(): Promise<StoredIssuer | undefined> {
    const [row] = await this.run<Row>(SQL.getIssuer)
    return row && issuers.fromRow(row)
  }

  async initIssuer(issuer: StoredIssuer, key: StoredKey): Promise<boolean> {
    try {
      return await this.transaction({durable: true}, async (tx) => {
        if ((await this.query(tx, SQL.getIssuer)).length > 0) return false
        await this.query(tx, SQL.insertKey, keys.values(key))
        // Lost to a process that committed its issuer meanwhile: our key goes with the rollback.
        if ((await this.query(tx, SQL.insertIssuer, issuers.values(issuer))).length === 0) throw new RolledBack()
        return true
      })
    } catch (error) {
      if (error instanceof RolledBack) return false
      throw error
    }
  }

  async listKeys(): Promise<StoredKey[]> {
    return (await this.run<Row>(SQL.listKeys)).map((row) => keys.fromRow(row))
  }

  async insertToken(token: StoredToken, audit: readonly StoredAuditEvent[] = []): Promise<void> {
    await this.transaction({durable: true}, async (tx) => {
      await this.query(tx, SQL.insertToken, tokens.values(token))
      if (audit.length > 0) await this.query(tx, SQL.appendAudit, auditColumns(audit))
    })
  }

  async importToken(token: StoredToken, key: StoredKey): Promise<ImportOutcome> {
    return this.transaction({durable: true}, async (tx): Promise<ImportOutcome> => {
      await this.query(tx, SQL.lockImports)
      const [existing] = await this.query<{kid: string}>(tx, SQL.tokenKid, [token.jti])
      if (existing) return existing.kid === key.kid ? 'already_imported' : 'token_conflict'

      const [known] = await this.query<Row>(tx, SQL.getKey, [key.kid])
      if (!known) {
        await this.query(tx, SQL.insertKey, keys.values(key))
        await this.query(tx, SQL.bumpKeyEpoch)
      } else {
        const [own] = await this.query<Row>(tx, SQL.getIssuer)
        if (!sameIssuerOf(keys.fromRow(known), key, own && issuers.fromRow(own))) return 'key_conflict'
      }

      await this.query(tx, SQL.insertToken, tokens.values(token))
      return 'imported'
    })
  }

  async getToken(jti: string): Promise<StoredToken | undefined> {
    const [row] = await this.run<Row>(SQL.getToken, [jti])
    return row && tokens.fromRow(row)
  }

  getTokenState(jti: string): Promise<TokenState | undefined> {
    return this.run<TokenState>(SQL.getTokenState, [jti]).then((rows) => rows[0])
  }

  async listTokens(options: {includeRevoked: boolean; subject?: string | undefined; now: number}): Promise<StoredToken[]> {
    const {subject, now} = options
    const rows =
      subject === undefined
        ? options.includeRevoked
          ? await this.run<Row>(SQL.listAll)
          : await this.run<Row>(SQL.listActive, [now])
        : options.includeRevoked
          ? await this.run<Row>(SQL.listAllOf, [subject])
          : await this.run<Row>(SQL.listActiveOf, [subject, now])
    return rows.map((row) => tokens.fromRow(row))
  }

  async revokeToken(jti: string, revokedAt: number, options: {cascade?: boolean} = {}): Promise<RevokeResult> {
    return this.transaction({durable: true}, async (tx): Promise<RevokeResult> => {
      const revoked = (await this.query(tx, SQL.revoke, [revokedAt, jti])).length === 1
      const outcome: RevokeOutcome = revoked ? 'revoked' : (await this.query(tx, SQL.tokenKid, [jti])).length > 0 ? 'already_revoked' : 'not_found'
      if (outcome === 'not_found' || !options.cascade) return {outcome, descendants: []}
      return {outcome, descendants: await this.revokeDescendants(tx, jti, revokedAt, false)}
    })
  }

  async recordLastUsed(uses: ReadonlyMap<string, LastUse>): Promise<void> {
    if (uses.size === 0) return
    const sorted = [...uses].sort(([a], [b]) => byId(a, b))
    await this.transaction({durable: false}, async (tx) => {
      await this.query(tx, SQL.recordLastUsed, [
        sorted.map(([jti]) => jti),
        sorted.map(([, use]) => use.at),
        sorted.map(([, {ip}]) => (ip !== null && ip.length <= ADDRESS_MAX ? ip : null)),
      ])
    })
  }

  async rotateToken(previous: string, next: StoredToken, revokeAt: number): Promise<boolean> {
    return this.transaction({durable: true}, async (tx) => {
      const marked = await this.query(tx, SQL.markRotated, [previous, next.jti, revokeAt, next.createdAt])
      if (marked.length === 0) return false
      await this.query(tx, SQL.insertToken, tokens.values(next))
      return true
    })
  }

  async revokeSuccessors(jti: string, at: number): Promise<string[]> {
    // Most revoked tokens were never rotated: a flood of them must not cost a synced write each.
    const [first] = await this.run<{rotated_to: string | null}>(SQL.successorOf, [jti])
    if (!first?.rotated_to) return []
    return this.transaction({durable: true}, async (tx) => {
      const revoked: string[] = []
      const seen = new Set([jti])
      const successorOf = async (of: string) => (await this.query<{rotated_to: string | null}>(tx, SQL.successorOf, [of]))[0]?.rotated_to ?? null
      let next = await successorOf(jti)
      while (next !== null && !seen.has(next)) {
        seen.add(next)
        if ((await this.query(tx, SQL.revoke, [at, next])).length === 1) revoked.push(next)
        next = await successorOf(next)
      }

      // Whatever was minted through the leaked token, or through any of its line, goes too.
      revoked.push(...(await this.revokeDescendants(tx, jti, at, true)))
      return revoked
    })
  }

  async countUse(jti: string, windowStart: number): Promise<number> {
    const [row] = await this.run<{count: number}>(SQL.countUse, [jti, windowStart])
    return row!.count
  }

  async peekUse(jti: string, windowStart: number): Promise<number> {
    const [row] = await this.run<{count: number}>(SQL.peekUse, [jti, windowStart])
    return row?.count ?? 0
  }

  async appendAudit(events: readonly StoredAuditEvent[]): Promise<void> {
    if (events.length === 0) return
    const touched = [...new Set(events.map((event) => event.jti))].sort(byId)
    await this.transaction({durable: false}, async (tx) => {
      await this.query(tx, SQL.appendAudit, auditColumns(events.map((event) => ({...event, detail: event.detail?.slice(0, AUDIT_DETAIL_MAX) ?? null}))))
      await this.query(tx, SQL.trimAudit, [touched, AUDIT_ENTRIES_PER_TOKEN])
    })
  }

  async listAudit(jti: string): Promise<StoredAuditEvent[]> {
    return this.run<StoredAuditEvent>(SQL.listAudit, [jti])
  }

  async keyEpoch(): Promise<number> {
    const [row] = await this.run<{key_epoch: number}>(SQL.keyEpoch)
    return row?.key_epoch ?? 0
  }

  async addActiveKey(key: StoredKey): Promise<void> {
    await this.transaction({durable: true}, async (tx) => {
      await this.query(tx, SQL.lockIssuer)
      await this.query(tx, SQL.insertKey, keys.values(key))
      await this.query(tx, SQL.setActiveKid, [key.kid])
    })
  }

  async addKey(key: StoredKey): Promise<void> {
    await this.transaction({durable: true}, async (tx) => {
      await this.query(tx, SQL.insertKey, keys.values(key))
      await this.query(tx, SQL.bumpKeyEpoch)
    })
  }

  async retireKey(kid: string, at: number): Promise<'retired' | 'active' | 'not_found' | 'already_retired'> {
    return this.transaction({durable: true}, async (tx) => {
      // The issuer row locked first: a key cannot become active while it is being retired.
      const [issuer] = await this.query<{active_kid: string}>(tx, SQL.lockIssuer)
      const [key] = await this.query<Row>(tx, SQL.getKey, [kid])
      if (!key || keys.fromRow(key).foreign !== null) return 'not_found'
      if (issuer?.active_kid === kid) return 'active'
      if ((await this.query(tx, SQL.retireKey, [at, kid])).length === 0) return 'already_retired'
      await this.query(tx, SQL.bumpKeyEpoch)
      return 'retired'
    })
  }

  async setMaxLifetime(seconds: number | null): Promise<void> {
    await this.transaction({durable: true}, (tx) => this.query(tx, SQL.setMaxLifetime, [seconds]))
  }

  /** Ends the pool: no connection is left to keep the process alive. */
  async tokenChangesSince(cursor: number, limit: number): Promise<TokenChange[]> {
    return this.run<TokenChange>(SQL.tokenChangesSince, [cursor, limit])
  }

  async latestTokenChange(): Promise<number> {
    const [row] = await this.run<{seq: number}>(SQL.latestTokenChange)
    return row!.seq
  }

  async revocationSnapshot(now: number): Promise<RevocationSnapshot> {
    // One snapshot of the database for both reads: the list and the cursor describe the same moment.
    try {
      return (await this.sql.begin('isolation level repeatable read read only', async (tx) => {
        const [latest] = await this.query<{seq: number}>(tx, SQL.latestTokenChange)
        const revoked = await this.query<RevocationSnapshot['revoked'][number]>(tx, SQL.revokedNotExpired, [now])
        return {cursor: latest!.seq, revoked}
      })) as RevocationSnapshot
    } catch (error) {
      throw translatePostgresError(error, this.where)
    }
  }

  watchTokenChanges(signal: () => void): void {
    // The driver listens on a connection of its own and listens again after it reconnects,
    // calling the last argument each time: a catch-up then finds what was missed meanwhile.
    void this.sql.listen('cape_token_changes', () => signal(), () => signal()).catch(() => undefined)
  }

  async recordInstance(beat: InstanceBeat, forgetBefore: number): Promise<void> {
    await this.transaction({durable: false}, async (tx) => {
      await this.query(tx, SQL.recordInstance, [beat.id, beat.host, beat.pid, beat.startedAt, beat.seenAt, beat.cursor])
      await this.query(tx, SQL.forgetInstances, [forgetBefore])
    })
  }

  async removeInstance(id: string): Promise<void> {
    await this.run(SQL.removeInstance, [id])
  }

  async listInstances(seenSince: number): Promise<InstanceBeat[]> {
    return this.run<InstanceBeat>(SQL.listInstances, [seenSince])
  }

  async close(): Promise<void> {
    await this.sql.end({timeout: 5})
  }

  /** Creates or upgrades the schema; of several processes starting at once, one migrates, the others wait and find it done. */
  private async migrate(): Promise<void> {
    if ((await this.schemaVersion(this.sql)) === POSTGRES_SCHEMA_VERSION) return
    await this.sql.begin(async (tx) => {
      await tx.unsafe(SQL.lockMigrations)
      await tx.unsafe('CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)')
      const from = await this.schemaVersion(tx)
      for (let version = from; version < POSTGRES_SCHEMA_VERSION; version++) await tx.unsafe(POSTGRES_MIGRATIONS[version]!)
      await tx.unsafe(
        'INSERT INTO schema_version (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
        [POSTGRES_SCHEMA_VERSION],
      )
    })
  }

  /** 0 for a database cape has not set up; store_too_new for one a newer cape has. */
  private async schemaVersion(sql: Sql | Tx): Promise<number> {
    let version = 0
    try {
      version = (await sql.unsafe<Array<{version: number}>>(SQL.schemaVersion))[0]?.version ?? 0
    } catch (error) {
      if ((error as {code?: unknown}).code !== '42P01') throw error // undefined_table: a new database
    }

    if (version > POSTGRES_SCHEMA_VERSION) {
      throw new CapeError(
        'store_too_new',
        `the database at ${this.where} has schema version ${version}, newer than this cape knows (${POSTGRES_SCHEMA_VERSION}): upgrade cape`,
      )
    }

    return version
  }

  private async revokeDescendants(tx: Tx, jti: string, at: number, successors: boolean): Promise<string[]> {
    // Sorted as SQLite returns them (by id), so both stores answer alike.
    return (await this.query<{jti: string}>(tx, SQL.revokeDescendants, [at, jti, successors])).map((row) => row.jti).sort(byId)
  }

  /**
   * One transaction, run again when PostgreSQL aborted it to break a deadlock; `durable` ones
   * are committed only once they are on disk.
   */
  private async transaction<T>(options: {durable: boolean}, body: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.sql.begin(async (tx) => {
          if (options.durable) await tx.unsafe(SQL.durable)
          return body(tx)
        })) as T
      } catch (error) {
        if (attempt < ATTEMPTS && isRetryable(error)) continue
        throw translatePostgresError(error, this.where)
      }
    }
  }

  /** A statement on the pool, on its own. */
  private async run<Row extends object = Record<string, unknown>>(text: string, values: readonly Parameter[] = []): Promise<Row[]> {
    try {
      return await this.query<Row>(this.sql, text, values)
    } catch (error) {
      throw translatePostgresError(error, this.where)
    }
  }

  /** A statement inside a transaction: its errors reach transaction(), which may run it all again. */
  private query<Row extends object = Record<string, unknown>>(sql: Sql | Tx, text: string, values: readonly Parameter[] = []): Promise<Row[]> {
    return sql.unsafe<Row[]>(text, values as Value[], {prepare: true})
  }
}

/** The trail's events as one array per column, for one INSERT ... SELECT FROM unnest. */
function auditColumns(events: readonly StoredAuditEvent[]): Value[] {
  return [
    events.map((event) => event.jti),
    events.map((event) => event.at),
    events.map((event) => event.event),
    events.map((event) => event.detail),
    events.map((event) => event.count),
  ]
}

/**
 * Whether a key already stored stands for the same issuer and audience as `key` claims: a
 * prepared token's key is taken only when it is the same issuer's. `own` is this store's issuer.
 */
function sameIssuerOf(known: StoredKey, key: StoredKey, own: StoredIssuer | undefined): boolean {
  const knownFor = known.foreign ?? own
  const keyFor = key.foreign ?? own
  if (knownFor === undefined || keyFor === undefined || knownFor.issuer !== keyFor.issuer) return false
  return knownFor.audience.length === keyFor.audience.length && knownFor.audience.every((entry) => keyFor.audience.includes(entry))
}
