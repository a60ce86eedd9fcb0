import {join} from 'node:path'

import Database from 'better-sqlite3'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, it} from 'vitest'

import {PostgresStore} from '../../src/store/postgres-store.js'
import {SqliteStore} from '../../src/store/sqlite-store.js'
import type {Store, StoredIssuer, StoredKey, StoredToken} from '../../src/store/types.js'
import {tempHome} from './cli.js'
import {createTestDatabase, emptyDatabase, postgresSkipReason, type TestDatabase} from './postgres.js'

/**
 * The store tests' two backends, for one suite run on each: SQLite in a temp directory and a
 * throwaway PostgreSQL database. Two stores opened on one database stand for two processes.
 */
export interface StoreBackend {
  name: string
  skipReason?: string | undefined
  /** Whether instances on several machines may share it, each with its own keys (Store.addKey). */
  shared: boolean
  /** Columns no field maps, by table: the store's own (the issuer row's id, the key epoch, the order keys were added in). */
  own: Readonly<Record<string, readonly string[]>>
  /** Makes the database empty, as if new. */
  reset(): Promise<void>
  open(): Promise<Store>
  /** The columns of a table, as the migrations created it. */
  columnsOf(table: string): Promise<string[]>
}

interface Lifecycle {
  setUp(): Promise<void>
  tearDown(): Promise<void>
}

function sqlite(): StoreBackend & Lifecycle {
  let dir: ReturnType<typeof tempHome> | undefined
  let round = 0
  let path = ''
  return {
    name: 'SQLite',
    shared: false,
    own: {issuer: ['id', 'key_epoch']},
    setUp: async () => {
      dir = tempHome()
    },
    tearDown: async () => dir?.cleanup(),
    reset: async () => {
      path = join(dir!.root, `cape-${round++}.db`)
    },
    open: async () => SqliteStore.open(path),
    columnsOf: async (table) => {
      const db = new Database(path, {readonly: true})
      try {
        return db
          .prepare<[string], {name: string}>('SELECT name FROM pragma_table_info(?)')
          .all(table)
          .map((column) => column.name)
      } finally {
        db.close()
      }
    },
  }
}

function postgresql(): StoreBackend & Lifecycle {
  let database: TestDatabase | undefined
  return {
    name: 'PostgreSQL',
    skipReason: postgresSkipReason,
    shared: true,
    own: {issuer: ['id', 'key_epoch'], signing_keys: ['added']},
    setUp: async () => {
      database = await createTestDatabase()
    },
    tearDown: async () => database?.drop(),
    reset: async () => emptyDatabase(database!.url),
    open: () => PostgresStore.open(database!.url),
    columnsOf: async (table) => {
      const sql = postgres(database!.url, {max: 1, onnotice: false, fetch_types: false})
      try {
        const rows = await sql<Array<{name: string}>>`
          SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table}`
        return rows.map((column) => column.name)
      } finally {
        await sql.end({timeout: 1})
      }
    },
  }
}

/** `body` once per backend, in a describe block named after it; where PostgreSQL is not reachable (outside CI), one skipped test says why. */
export function describeEachStore(title: string, body: (backend: StoreBackend) => void): void {
  describe.each([sqlite(), postgresql()])(`${title}, on $name`, (backend) => {
    if (backend.skipReason !== undefined) {
      it.skip(backend.skipReason, () => {})
      return
    }

    beforeAll(() => backend.setUp())
    afterAll(() => backend.tearDown())
    body(backend)
  })
}

export const T0 = Date.UTC(2030, 0, 1)

export const storedKey = (kid: string, createdAt = T0, foreign: StoredKey['foreign'] = null): StoredKey => ({
  kid,
  alg: 'EdDSA',
  publicJwk: JSON.stringify({kty: 'OKP', crv: 'Ed25519', x: kid, kid, alg: 'EdDSA', use: 'sig'}),
  createdAt,
  retiredAt: null,
  foreign,
})

export const storedIssuer = (activeKid: string): StoredIssuer => ({
  issuer: 'cape',
  audience: ['cape-api', 'other'],
  algorithm: 'EdDSA',
  defaultSubject: 'me',
  activeKid,
  createdAt: T0,
  maxLifetimeSeconds: null,
  keyStorage: 'file',
})

export const storedToken = (jti: string, fields: Partial<StoredToken> = {}): StoredToken => ({
  jti,
  subject: 'me',
  name: `token ${jti}`,
  description: null,
  scopes: ['api'],
  kid: 'k1',
  createdAt: T0,
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  account: null,
  restrictions: null,
  rotatedTo: null,
  lastUsedIp: null,
  parent: null,
  ...fields,
})
