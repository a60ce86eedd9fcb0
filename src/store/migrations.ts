/**
 * One entry per schema version; entry i takes the database from user_version i to i + 1.
 * Never edit a released entry: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
  ) STRICT;

  CREATE TABLE issuer (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    issuer          TEXT NOT NULL,
    audience        TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    default_subject TEXT NOT NULL,
    active_kid      TEXT NOT NULL REFERENCES signing_keys (kid),
    created_at      INTEGER NOT NULL
  ) STRICT;

  -- Keyed by jti and clustered on it: a verification is one b-tree lookup.
  CREATE TABLE tokens (
    jti          TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    scopes       TEXT NOT NULL,
    kid          TEXT NOT NULL REFERENCES signing_keys (kid),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
  ) STRICT, WITHOUT ROWID;

  CREATE INDEX tokens_by_subject ON tokens (subject, created_at);
  `,
  // v2: a token may be bound to one account (EmailEngine's account tokens).
  `
  ALTER TABLE tokens ADD COLUMN account TEXT;
  `,
  // v3: prepared tokens bring another issuer's public key, which verifies only the tokens imported
  // with it and only with that issuer's iss and aud. NULL for this issuer's own keys.
  `
  ALTER TABLE signing_keys ADD COLUMN foreign_issuer TEXT;
  ALTER TABLE signing_keys ADD COLUMN foreign_audience TEXT;
  `,
  // v4: restrictions, rotation, lifetime policy, key storage, rate-limit windows and the audit trail.
  `
  ALTER TABLE tokens ADD COLUMN restrictions TEXT;
  ALTER TABLE tokens ADD COLUMN rotated_to TEXT;
  ALTER TABLE tokens ADD COLUMN last_used_ip TEXT;
  ALTER TABLE issuer ADD COLUMN max_lifetime INTEGER;
  ALTER TABLE issuer ADD COLUMN key_storage TEXT NOT NULL DEFAULT 'file';
  -- Bumped by every change to the key set, so running processes notice a rotation or retirement.
  ALTER TABLE issuer ADD COLUMN key_epoch INTEGER NOT NULL DEFAULT 0;

  -- One fixed window per rate-limited token, shared by every process on this store.
  CREATE TABLE rate_windows (
    jti          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  -- What happened to each token; repeats within a flush are one row with a count. Capped per token.
  CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    jti    TEXT NOT NULL,
    at     INTEGER NOT NULL,
    event  TEXT NOT NULL,
    detail TEXT,
    count  INTEGER NOT NULL DEFAULT 1
  ) STRICT;
  CREATE INDEX audit_by_token ON audit (jti, id);
  `,
  // v5: lineage. A token minted through another records it, so revoking can reach its descendants,
  // also through the tokens it replaced by rotation.
  `
  ALTER TABLE tokens ADD COLUMN parent TEXT;
  CREATE INDEX tokens_by_parent ON tokens (parent) WHERE parent IS NOT NULL;
  CREATE INDEX tokens_by_successor ON tokens (rotated_to) WHERE rotated_to IS NOT NULL;
  `,
  // v6: every change to a token's revocation, in order, so running instances and revocation feeds
  // catch up from a cursor instead of reading the store on every verification.
  `
  CREATE TABLE token_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    jti TEXT NOT NULL
  ) STRICT;
  CREATE TRIGGER tokens_revocation_changed AFTER UPDATE OF revoked_at, rotated_to ON tokens
    WHEN old.revoked_at IS NOT new.revoked_at OR old.rotated_to IS NOT new.rotated_to
  BEGIN
    INSERT INTO token_changes (jti) VALUES (new.jti);
  END;

  -- Each serving process, as it last reported itself: what issuer status lists.
  CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    cursor     INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length
