import {existsSync} from 'node:fs'
import {createServer, type AddressInfo} from 'node:net'
import {join} from 'node:path'

import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {POSTGRES_SCHEMA_VERSION} from '../../src/store/postgres-migrations.js'
import {PostgresStore} from '../../src/store/postgres-store.js'
import {parseJson, runCli, runCliProcess, tempHome} from '../helpers/cli.js'
import {createTestDatabase, emptyDatabase, postgresSkipReason, type TestDatabase} from '../helpers/postgres.js'

/** What only the PostgreSQL store has: a server that may be away, a schema others share, a pool to end. */
describe.skipIf(postgresSkipReason !== undefined)('the PostgreSQL store', () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database?.drop())

  const withDatabase = async <T>(use: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
    const sql = postgres(database.url, {max: 1, onnotice: false})
    try {
      return await use(sql)
    } finally {
      await sql.end({timeout: 1})
    }
  }

  it('four processes starting on a new database at once: one migrates, all open', async () => {
    await emptyDatabase(database.url)
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.open(database.url)))
    await Promise.all(stores.map((store) => store.close()))
    expect(await withDatabase((sql) => sql`SELECT version FROM schema_version`)).toEqual([{version: POSTGRES_SCHEMA_VERSION}])
  })

  it('refuses a database a newer cape has migrated', async () => {
    await emptyDatabase(database.url)
    await (await PostgresStore.open(database.url)).close()
    await withDatabase((sql) => sql`UPDATE schema_version SET version = 99`)
    await expect(PostgresStore.open(database.url)).rejects.toMatchObject({
      code: 'store_too_new',
      message: expect.stringMatching(new RegExp(`has schema version 99, newer than this cape knows \\(${POSTGRES_SCHEMA_VERSION}\\): upgrade cape$`)),
    })
  })

  describe('says in one line what is wrong, never with the password', () => {
    const secret = 'hunter2-secret'
    const urlAt = (port: number, database = 'cape') => `postgres://cape:${secret}@127.0.0.1:${port}/${database}`

    it('nothing listening: issuer_unavailable', async () => {
      const port = await freePort()
      const error = await PostgresStore.open(urlAt(port)).catch((caught: unknown) => caught)
      expect(error).toMatchObject({code: 'issuer_unavailable', message: `cannot reach the database at 127.0.0.1:${port}/cape: connection refused`})
    })

    it('a wrong password, a database that is not there: store_unavailable', async () => {
      const wrong = new URL(database.url)
      wrong.password = secret
      await expect(PostgresStore.open(wrong.href)).rejects.toMatchObject({
        code: 'store_unavailable',
        message: `cannot use the database at 127.0.0.1:${wrong.port}${wrong.pathname}: password authentication failed for user "cape"`,
      })
      const missing = new URL(database.url)
      missing.pathname = '/cape_test_no_such_database'
      await expect(PostgresStore.open(missing.href)).rejects.toMatchObject({
        code: 'store_unavailable',
        message: expect.stringContaining('database "cape_test_no_such_database" does not exist'),
      })
    })

    it('a server that accepts and never answers: issuer_unavailable once connect_timeout passes, not a hang', async () => {
      const silent = createServer(() => {})
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const {port} = silent.address() as AddressInfo
      try {
        await expect(PostgresStore.open(`${urlAt(port)}?connect_timeout=1`)).rejects.toMatchObject({code: 'issuer_unavailable'})
      } finally {
        silent.close()
      }
    })

    it('at the command line: exit 3 and the line, no stack', async () => {
      const dir = tempHome()
      try {
        const result = await runCliProcess(['token', 'list'], {home: dir.home, env: {CAPE_DATABASE_URL: urlAt(await freePort())}})
        expect(result.code).toBe(3)
        expect(result.stderr).toMatch(/^Error: cannot reach the database at 127\.0\.0\.1:\d+\/cape: connection refused\n$/)
        expect(result.stderr).not.toContain(secret)
        const bad = await runCli(['token', 'list'], {home: dir.home, env: {CAPE_DATABASE_URL: 'mysql://localhost/cape'}})
        expect(bad).toMatchObject({code: 3, stderr: 'Error: the database URL must start with postgres:// or postgresql://\n'})
      } finally {
        dir.cleanup()
      }
    })
  })

  it('through the CLI: the first token create sets the issuer up, every command works, and each exits promptly', async () => {
    await emptyDatabase(database.url)
    const dir = tempHome()
    const env = {CAPE_DATABASE_URL: database.url.replace(/^postgres:/, 'postgresql:')}
    const run = (args: string[], input?: string) => runCli(args, {home: dir.home, env, input})
    try {
      // A real process: a pool left open would keep it alive, and the command must not wait on it.
      const started = performance.now()
      const created = await runCliProcess(['token', 'create', '-n', 'shared', '--json'], {home: dir.home, env})
      expect(created.code).toBe(0)
      expect(performance.now() - started).toBeLessThan(5000)
      const {id, token} = parseJson<{id: string; token: string}>(created.stdout)
      expect(parseJson((await run(['token', 'list', '--json'])).stdout)).toMatchObject([{id, name: 'shared', status: 'active'}])
      expect((await run(['token', 'verify', '-'], token)).code).toBe(0)
      expect((await run(['issuer', 'init'])).stderr).toMatch(/^Error: the issuer is already set up/)
      expect((await run(['token', 'delete', id])).stdout).toBe(`Deleted token ${id}\n`)
      expect(parseJson((await run(['token', 'verify', '-', '--json'], token)).stdout)).toEqual({valid: false, reason: 'revoked'})
      // Nothing of it went to SQLite.
      expect(existsSync(join(dir.home, 'cape.db'))).toBe(false)
      expect(await withDatabase((sql) => sql`SELECT name, revoked_at IS NOT NULL AS revoked FROM tokens`)).toEqual([{name: 'shared', revoked: true}])
    } finally {
      dir.cleanup()
    }
  })
})

/** A port nothing listens on: taken, then let go. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
