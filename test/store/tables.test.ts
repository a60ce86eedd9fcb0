import {afterEach, beforeEach, expect, it} from 'vitest'

import {issuerTable, keyTable, tokenTable} from '../../src/store/tables.js'
import type {Store, StoredIssuer, StoredKey} from '../../src/store/types.js'
import {describeEachStore, storedToken} from '../helpers/stores.js'

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
/** The fields every token here has, where the helper's defaults differ. */
const laptop = {subject: 'alice', name: 'laptop', scopes: [], kid: 'own-kid', createdAt: 1_700_000_001_000}

describeEachStore('the column maps', (backend) => {
  let store: Store

  beforeEach(async () => {
    await backend.reset()
    store = await backend.open()
    await store.initIssuer(issuer, ownKey)
  })
  afterEach(() => store.close())

  it('name every column the migrations create, and no other', async () => {
    const columnsOf = async (table: string) =>
      (await backend.columnsOf(table)).filter((name) => !(backend.own[table] ?? []).includes(name)).sort()
    const mapped = (columns: string) => columns.split(', ').sort()
    expect(mapped(tokenTable.columns)).toEqual(await columnsOf('tokens'))
    expect(mapped(keyTable.columns)).toEqual(await columnsOf('signing_keys'))
    expect(mapped(issuerTable.columns)).toEqual(await columnsOf('issuer'))
  })

  it('read back exactly what was written: JSON columns, scope lists, nulls', async () => {
    const plain = storedToken('a'.repeat(22), laptop)
    const full = storedToken('b'.repeat(22), {
      ...laptop,
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
    expect(await store.getTokenState(full.jti)).toEqual({name: 'laptop', revokedAt: null, account: 'acme'})
    expect(await store.getIssuer()).toEqual(issuer)

    const imported = storedToken('c'.repeat(22), {...laptop, kid: foreignKey.kid})
    expect(await store.importToken(imported, foreignKey)).toBe('imported')
    expect(await store.listKeys()).toEqual([ownKey, foreignKey])
    expect(await store.getToken(imported.jti)).toEqual(imported)
  })
})
