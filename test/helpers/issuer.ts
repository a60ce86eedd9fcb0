import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {importJWK, SignJWT, type CryptoKey, type JWK} from 'jose'
import postgres from 'postgres'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {tempHome} from './cli.js'

/**
 * The store the issuer tests run on: SQLite in CAPE_HOME, or, with CAPE_TEST_STORE=postgres (the
 * "postgres" project of vitest.config.ts), an empty PostgreSQL database per issuer.
 */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.CAPE_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

/** A real issuer in a temp CAPE_HOME with a clock the test can move. */
export async function openTestIssuer(): Promise<{
  issuer: LocalIssuer
  home: string
  /** Where the store is, for another LocalIssuer.open on it. */
  databaseUrl: string | undefined
  /** For runCli: the CLI then uses the same store. */
  env: Record<string, string>
  clock: {now: number}
  cleanup: () => Promise<void>
}> {
  const dir = tempHome()
  // Loaded only for PostgreSQL runs: the helper connects to the server as it loads.
  const database = TEST_STORE === 'postgres' ? await (await import('./postgres.js')).takeTestDatabase() : undefined
  const clock = {now: Date.now()}
  const issuer = await LocalIssuer.open({home: dir.home, databaseUrl: database?.url, now: () => clock.now})
  return {
    issuer,
    home: dir.home,
    databaseUrl: database?.url,
    env: database ? {CAPE_DATABASE_URL: database.url} : {},
    clock,
    cleanup: async () => {
      await issuer.close()
      await database?.release()
      dir.cleanup()
    },
  }
}

/**
 * Holds the test issuer's store locked against writes, as another process's long write would,
 * until the returned function is called.
 */
export async function lockStore(t: {home: string; databaseUrl: string | undefined}): Promise<() => Promise<void>> {
  if (t.databaseUrl === undefined) {
    const db = new Database(join(t.home, 'cape.db'))
    db.exec('BEGIN EXCLUSIVE')
    return async () => {
      db.exec('ROLLBACK')
      db.close()
    }
  }

  const sql = postgres(t.databaseUrl, {max: 1, onnotice: false})
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let locked!: () => void
  const ready = new Promise<void>((resolve) => (locked = resolve))
  const transaction = sql.begin(async (tx) => {
    // EXCLUSIVE lets readers through, as SQLite's WAL does, and stops every writer.
    await tx`LOCK TABLE tokens, rate_windows, audit IN EXCLUSIVE MODE`
    locked()
    await held
  })
  await Promise.race([ready, transaction])
  return async () => {
    release()
    await transaction
    await sql.end({timeout: 1})
  }
}

/** The issuer's own private key, read as an attacker who stole it (or a test) would. */
export async function stolenSigningKey(home: string): Promise<{key: CryptoKey; kid: string}> {
  const keysDir = join(home, 'keys')
  const [file] = readdirSync(keysDir)
  const jwk = JSON.parse(readFileSync(join(keysDir, file!), 'utf8')) as JWK
  return {key: (await importJWK(jwk, 'EdDSA')) as CryptoKey, kid: jwk.kid!}
}

export function decodeSegment(token: string, index: 0 | 1): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8'))
}

export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export async function signWith(
  key: CryptoKey | Uint8Array,
  header: Record<string, unknown> & {alg: string},
  claims: Record<string, unknown>,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key)
}
