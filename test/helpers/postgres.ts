import {randomBytes} from 'node:crypto'

import postgres from 'postgres'

/**
 * PostgreSQL for the tests: the server at CAPE_TEST_PG_URL (an admin URL: a role that may create
 * databases; `.ci/postgres.sh` sets one up and prints it), else the one that script makes. Each
 * test file (or issuer) gets a throwaway database, dropped after. Where nothing answers, the
 * PostgreSQL tests skip with a line that says so, except in CI, where they fail.
 */
export const PG_ADMIN_URL = process.env.CAPE_TEST_PG_URL || 'postgres://cape:cape@127.0.0.1:5432/postgres'

const inCi = ['true', '1'].includes(process.env.CI ?? '')
const where = (() => {
  const url = new URL(PG_ADMIN_URL)
  return `${url.hostname}:${url.port || 5432}`
})()

const admin = () => postgres(PG_ADMIN_URL, {max: 1, connect_timeout: 5, onnotice: false, fetch_types: false})

/** Why the PostgreSQL tests cannot run here; undefined when they can. */
export const postgresSkipReason: string | undefined = await probe()
export const postgresReachable = postgresSkipReason === undefined

async function probe(): Promise<string | undefined> {
  const sql = admin()
  try {
    await sql`SELECT 1`
    await dropAbandoned(sql)
    return undefined
  } catch (error) {
    const reason = `no PostgreSQL at ${where} (${(error as Error).message}): set CAPE_TEST_PG_URL or run .ci/postgres.sh`
    if (inCi) throw new Error(`the PostgreSQL tests must run in CI, but there is ${reason}`)
    process.stderr.write(`PostgreSQL tests skipped: ${reason}\n`)
    return `skipped: ${reason}`
  } finally {
    await sql.end({timeout: 1})
  }
}

/** Databases left by test processes that died before they could drop them. */
async function dropAbandoned(sql: postgres.Sql): Promise<void> {
  const names = await sql<Array<{datname: string}>>`SELECT datname FROM pg_database WHERE datname LIKE 'cape\_test\_%'`
  for (const {datname} of names) {
    const pid = Number(datname.split('_')[2])
    if (Number.isInteger(pid) && !alive(pid)) await sql`DROP DATABASE IF EXISTS ${sql(datname)} WITH (FORCE)`
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export interface TestDatabase {
  /** The URL of the new, empty database, as CAPE_DATABASE_URL takes it. */
  url: string
  /** Drops it, closing whatever connections are still open on it. */
  drop(): Promise<void>
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `cape_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const sql = admin()
  try {
    await sql`CREATE DATABASE ${sql(name)}`
  } finally {
    await sql.end({timeout: 1})
  }

  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.href,
    drop: async () => {
      const dropper = admin()
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            await dropper`DROP DATABASE IF EXISTS ${dropper(name)} WITH (FORCE)`
            return
          } catch (error) {
            // A connection still starting up (a pool that was ended while it connected) has no
            // role yet, so only a superuser may end it: wait for it to go away by itself.
            if ((error as {code?: string}).code !== '42501' || attempt === 50) throw error
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        }
      } finally {
        await dropper.end({timeout: 1})
      }
    },
  }
}

/**
 * Databases this process made for issuers, emptied once their test was done, schema kept: a
 * test takes one of these before it makes a new one, as CREATE DATABASE and the migrations cost
 * some 300 ms and emptying some 20. The postgres project's setup file drops them after each file.
 */
const spares: TestDatabase[] = []

/** A database for one test's issuer; `release` empties it (or drops it, when that cannot be done at once) and keeps it for the next. */
export async function takeTestDatabase(): Promise<{url: string; release(): Promise<void>}> {
  const database = spares.pop() ?? (await createTestDatabase())
  return {
    url: database.url,
    release: async () => {
      const sql = postgres(database.url, {max: 1, onnotice: false, fetch_types: false, connection: {lock_timeout: 2000}})
      try {
        const tables = await sql<Array<{name: string}>>`
          SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_version'`
        if (tables.length > 0) await sql`TRUNCATE ${sql(tables.map((table) => table.name))} RESTART IDENTITY`
        spares.push(database)
      } catch {
        // Something still holds a table (a test that left a transaction open): start afresh.
        await database.drop()
      } finally {
        await sql.end({timeout: 1})
      }
    },
  }
}

export async function dropSpareDatabases(): Promise<void> {
  await Promise.all(spares.splice(0).map((database) => database.drop()))
}

/** Empties a test database, schema included, as if it had just been created. */
export async function emptyDatabase(url: string): Promise<void> {
  const sql = postgres(url, {max: 1, onnotice: false, fetch_types: false})
  try {
    await sql`DROP SCHEMA public CASCADE`
    await sql`CREATE SCHEMA public`
  } finally {
    await sql.end({timeout: 1})
  }
}
