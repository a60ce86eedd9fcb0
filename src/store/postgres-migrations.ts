/**
 * The PostgreSQL schema, one entry per version: entry i takes the database from version i to
 * i + 1 (the version is the one row of `schema_version`). Never edit a released entry: add the
 * next one. The tables and columns are SQLite's (src/store/migrations.ts), so both stores read
 * alike; times are epoch milliseconds in BIGINT. Ids are compared and sorted byte by byte
 * (COLLATE "C"), as SQLite does, so both stores list tokens in the same order.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE signing_keys (
    kid              TEXT COLLATE "C" PRIMARY KEY,
    alg              TEXT NOT NULL,
    public_jwk       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    retired_at       BIGINT,
    foreign_issuer   TEXT,
    foreign_audience TEXT,
    -- The order keys were added in, for keys created in the same millisecond (SQLite's rowid).
    added            BIGINT GENERATED ALWAYS AS IDENTITY
  );

  CREATE TABLE issuer (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    issuer          TEXT NOT NULL,
    audience        TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    default_subject TEXT NOT NULL,
    active_kid      TEXT COLLATE "C" NOT NULL REFERENCES signing_keys (kid),
    created_at      BIGINT NOT NULL,
    max_lifetime    BIGINT,
    key_storage     TEXT NOT NULL DEFAULT 'file',
    -- Bumped by every change to the key set, so running processes notice a rotation or retirement.
    key_epoch       BIGINT NOT NULL DEFAULT 0
  );

  CREATE TABLE tokens (
    jti          TEXT COLLATE "C" PRIMARY KEY,
    subject      TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    scopes       TEXT NOT NULL,
    kid          TEXT COLLATE "C" NOT NULL REFERENCES signing_keys (kid),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    account      TEXT,
    restrictions TEXT,
    rotated_to   TEXT COLLATE "C",
    last_used_ip TEXT,
    parent       TEXT COLLATE "C"
  );

  CREATE INDEX tokens_by_subject ON tokens (subject, created_at);
  CREATE INDEX tokens_by_parent ON tokens (parent) WHERE parent IS NOT NULL;
  CREATE INDEX tokens_by_successor ON tokens (rotated_to) WHERE rotated_to IS NOT NULL;

  -- One fixed window per rate-limited token, shared by every process on this database.
  CREATE TABLE rate_windows (
    jti          TEXT COLLATE "C" PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL
  );

  -- What happened to each token; repeats within a flush are one row with a count. Capped per token.
  CREATE TABLE audit (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti    TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    event  TEXT NOT NULL,
    detail TEXT,
    count  INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX audit_by_token ON audit (jti, id);
  `,
  // v2: every change to a token's revocation, in order, announced to every listening instance on
  // commit, so running instances and revocation feeds catch up from a cursor (as SQLite's v6).
  `
  CREATE TABLE token_changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti TEXT COLLATE "C" NOT NULL
  );

  CREATE FUNCTION cape_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.rotated_to IS DISTINCT FROM OLD.rotated_to THEN
      INSERT INTO token_changes (jti) VALUES (NEW.jti);
      -- Delivered on commit, once per transaction whatever it changed: listeners read the log.
      PERFORM pg_notify('cape_token_changes', '');
    END IF;
    RETURN NULL;
  END
  $$;

  CREATE TRIGGER tokens_revocation_changed AFTER UPDATE OF revoked_at, rotated_to ON tokens
    FOR EACH ROW EXECUTE FUNCTION cape_token_changed();

  -- Each serving process, as it last reported itself: what issuer status lists.
  CREATE TABLE instances (
    id         TEXT COLLATE "C" PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    cursor     BIGINT NOT NULL
  );
  `,
]

export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length
