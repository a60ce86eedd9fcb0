import {closeSync, openSync, statSync} from 'node:fs'

import Database from 'better-sqlite3'

import {describeFsError} from '../fs/describe-error.js'
import {PRIVATE_FILE_MODE} from '../fs/secure-files.js'
import {CapeError} from '../core/errors.js'
import {MIGRATIONS, SCHEMA_VERSION} from './migrations.js'

export type SqliteDatabase = Database.Database

const BUSY_TIMEOUT_MS = 5000

/** Opens (creating if needed) the SQLite file, sets it up for many processes, and migrates it. */
export function openDatabase(path: string): SqliteDatabase {
  createPrivately(path)
  let db: SqliteDatabase | undefined
  try {
    db = new Database(path, {timeout: BUSY_TIMEOUT_MS})
    db.pragma('journal_mode = WAL')
    // WAL + NORMAL survives a crash of the process; revocations ask for FULL themselves.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrate(db, path)
    return db
  } catch (error) {
    db?.close()
    throw translateSqliteError(error, path)
  }
}

function createPrivately(path: string): void {
  try {
    closeSync(openSync(path, 'a', PRIVATE_FILE_MODE))
  } catch (error) {
    throw new CapeError('store_unavailable', `cannot open the database ${path}: ${describeFsError(error)}`, {
      cause: error,
    })
  }

  refuseShared(path)
}

/**
 * Anyone else who can write the database can grant themselves any token, and anyone who can
 * read it learns every token's metadata: a database (or its WAL and shared memory) open to the
 * group or others is refused, as an insecure credential file is.
 */
function refuseShared(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number
    try {
      mode = statSync(file).mode
    } catch {
      continue // the WAL and shared memory exist only while the database is in use
    }

    if ((mode & 0o077) !== 0) {
      throw new CapeError(
        'store_insecure',
        `${file} can be read or written by other users (mode ${(mode & 0o777).toString(8)}): run "chmod 600 ${path}*" if that was not meant`,
      )
    }
  }
}

function migrate(db: SqliteDatabase, path: string): void {
  const current = () => db.pragma('user_version', {simple: true}) as number
  if (current() === SCHEMA_VERSION) return

  // IMMEDIATE: of several processes opening a new database at once, one migrates, the rest wait.
  db.transaction(() => {
    const from = current()
    if (from > SCHEMA_VERSION) {
      throw new CapeError(
        'store_too_new',
        `the database ${path} has schema version ${from}, newer than this cape knows (${SCHEMA_VERSION}): upgrade cape`,
      )
    }

    for (let version = from; version < SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version]!)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }).immediate()
}

/** Turns SQLite's failures into the one-line errors a user can act on. */
export function translateSqliteError(error: unknown, path: string): unknown {
  if (!(error instanceof Database.SqliteError)) return error
  const code = error.code
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new CapeError('store_corrupt', `the database ${path} is corrupt or not a cape database`, {cause: error})
  }

  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new CapeError('store_busy', `the database ${path} is locked by another process; try again`, {cause: error})
  }

  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_PERM' ||
    code === 'SQLITE_FULL'
  ) {
    return new CapeError('store_unavailable', `cannot use the database ${path}: ${error.message}`, {cause: error})
  }

  return error
}
