import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {SqliteStore} from '../../src/store/sqlite-store.js'
import {issuerTable, keyTable, tokenTable} from '../../src/store/tables.js'
import type {StoredIssuer, StoredKey, StoredToken} from '../../src/store/types.js'
import {tempHome} from '../helpers/cli.js'

const issuer: StoredIssuer = {
  issuer: 'urn:cape:local',
  audience: ['cape-api', 'other'],
  algorithm: 'EdDSA',
  defaultSubject: 'alice',
  activeKid: 'own-kid',
  createdAt: 1_700_000_000_000,
  maxLifetimeSeconds: null,
  keyStorage: 'keychain',
}
const ownKey: StoredKey = {kid: 'own-kid', alg: 'EdDSA', publicJwk: '{"kty":"OKP"}', createdAt: 1_700_000_000_000, retiredAt: null, foreign: null}
const foreignKey: StoredKey = {
  kid: 'foreign-kid',
  alg: 'ES256',
  publicJwk: '{"kty":"EC"}',
  createdAt: 1_700_000_000_500,
  retiredAt: null,
  foreign: {issuer: 'https://elsewhere.example', audience: ['their-api']},
}

function storedToken(jti: string, fields: Partial<StoredToken> = {}): StoredToken {
  return {
    jti,
    subject: 'alice',
    name: 'laptop',
    description: null,
    scopes: [],
    kid: 'own-kid',
    createdAt: 1_700_000_001_000,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    account: null,
    restrictions: null,
    rotatedTo: null,
    lastUsedIp: null,
    parent: null,
    ...fields,
  }
}

describe('the column maps', () => {
  let dir: ReturnType<typeof tempHome>
  let path: string
  let store: SqliteStore

  beforeEach(async () => {
    dir = tempHome()
    path = join(dir.root, 'cape.db')
    store = SqliteStore.open(path)
    await store.initIssuer(issuer, ownKey)
  })

  afterEach(() => {
    store.close()
    dir.cleanup()
  })

  it('name every column the migrations create, and no other', () => {
    const db = new Database(path, {readonly: true})
    try {
      const columnsOf = (table: string) =>
        db
          .prepare<[], {name: string}>(`SELECT name FROM pragma_table_info('${table}')`)
          .all()
          .map((column) => column.name)
          .sort()
      const mapped = (columns: string) => columns.split(', ').sort()
      expect(mapped(tokenTable.columns)).toEqual(columnsOf('tokens'))
      expect(mapped(keyTable.columns)).toEqual(columnsOf('signing_keys'))
      // The issuer row's id (always 1) and key epoch are the store's own.
      expect(mapped(issuerTable.columns)).toEqual(columnsOf('issuer').filter((name) => name !== 'id' && name !== 'key_epoch'))
    } finally {
      db.close()
    }
  })

  it('read back exactly what was written: JSON columns, scope lists, nulls', async () => {
    const plain = storedToken('a'.repeat(22))
    const full = storedToken('b'.repeat(22), {
      description: 'CI',
      scopes: ['api', 'tokens'],
      expiresAt: 1_800_000_000_000,
      account: 'acme',
      restrictions: {addresses: ['192.0.2.0/24'], referrers: ['https://*.example.com/*'], rateLimit: {maxRequests: 10, timeWindow: 60}},
      parent: 'a'.repeat(22),
    })
    await store.insertToken(plain)
    await store.insertToken(full)
    expect(await store.getToken(plain.jti)).toEqual(plain)
    expect(await store.getToken(full.jti)).toEqual(full)
    expect(await store.listTokens({includeRevoked: true, now: 0})).toEqual([plain, full])
    expect(store.getTokenState(full.jti)).toEqual({name: 'laptop', revokedAt: null, account: 'acme'})
    expect(await store.getIssuer()).toEqual(issuer)

    const imported = storedToken('c'.repeat(22), {kid: foreignKey.kid})
    expect(await store.importToken(imported, foreignKey)).toBe('imported')
    expect(await store.listKeys()).toEqual([ownKey, foreignKey])
    expect(await store.getToken(imported.jti)).toEqual(imported)
  })
})
