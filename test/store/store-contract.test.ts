import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Store} from '../../src/store/types.js'
import {describeEachStore, storedIssuer as issuerWith, storedKey as key, storedToken as token, T0} from '../helpers/stores.js'

/** The Store interface, as the issuer relies on it, on each backend: one suite, two stores. */
describeEachStore('the store', (backend) => {
  let store: Store
  const opened: Store[] = []
  /** Another process on the same database. */
  const another = async () => {
    const other = await backend.open()
    opened.push(other)
    return other
  }

  beforeEach(async () => {
    await backend.reset()
    store = await another()
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((one) => one.close()))
  })

  const withIssuer = async () => {
    expect(await store.initIssuer(issuerWith('k1'), key('k1'))).toBe(true)
  }

  describe('the issuer', () => {
    it('is set up once: the first initIssuer wins, a later one changes nothing', async () => {
      expect(await store.getIssuer()).toBeUndefined()
      expect(await store.keyEpoch()).toBe(0)
      await withIssuer()
      expect(await store.initIssuer({...issuerWith('k2'), issuer: 'other'}, key('k2'))).toBe(false)
      expect(await store.getIssuer()).toEqual(issuerWith('k1'))
      expect((await store.listKeys()).map((one) => one.kid)).toEqual(['k1'])
    })

    it('of processes setting it up at once, exactly one wins and the losers leave no key behind', async () => {
      const stores = [store, await another(), await another(), await another()]
      const won = await Promise.all(stores.map((one, index) => one.initIssuer(issuerWith(`k${index}`), key(`k${index}`))))
      expect(won.filter(Boolean)).toHaveLength(1)
      const winner = `k${won.indexOf(true)}`
      expect((await stores[3]!.getIssuer())?.activeKid).toBe(winner)
      expect((await store.listKeys()).map((one) => one.kid)).toEqual([winner])
    })

    it('keeps its settings; the lifetime policy can change', async () => {
      await withIssuer()
      await store.setMaxLifetime(90 * 86_400)
      expect(await (await another()).getIssuer()).toMatchObject({maxLifetimeSeconds: 90 * 86_400, audience: ['cape-api', 'other']})
      await store.setMaxLifetime(null)
      expect(await store.getIssuer()).toMatchObject({maxLifetimeSeconds: null})
    })
  })

  describe('tokens', () => {
    beforeEach(withIssuer)

    it('come back as stored, times as numbers, with the trail written in the same transaction', async () => {
      const full = token('full', {
        description: 'every field',
        scopes: ['api', 'tokens'],
        expiresAt: T0 + 86_400_000,
        account: 'acme',
        restrictions: {addresses: ['10.0.0.0/8'], referrers: ['https://*.example.com/*'], rateLimit: {maxRequests: 5, timeWindow: 60}},
        parent: 'someone',
      })
      await store.insertToken(full, [{jti: 'full', at: T0, event: 'created', detail: null, count: 1}])
      await store.insertToken(token('bare', {scopes: []}))
      expect(await store.getToken('full')).toEqual(full)
      expect(await store.getToken('bare')).toEqual(token('bare', {scopes: []}))
      expect(typeof (await store.getToken('full'))!.createdAt).toBe('number')
      expect(await store.getToken('nope')).toBeUndefined()
      expect(await store.getTokenState('full')).toEqual({name: 'token full', revokedAt: null, account: 'acme'})
      expect(await store.getTokenState('nope')).toBeUndefined()
      expect(await store.listAudit('full')).toEqual([{jti: 'full', at: T0, event: 'created', detail: null, count: 1}])
    })

    it('refuses a second token with the same id', async () => {
      await store.insertToken(token('same'))
      await expect(store.insertToken(token('same'))).rejects.toThrow()
      expect((await store.listTokens({includeRevoked: true, now: T0})).map((one) => one.jti)).toEqual(['same'])
    })

    it('are listed oldest first (by id within a millisecond), by subject, with or without the revoked', async () => {
      await store.insertToken(token('b-later', {createdAt: T0 + 2}))
      await store.insertToken(token('Z-first', {createdAt: T0, subject: 'you'}))
      await store.insertToken(token('a-first', {createdAt: T0}))
      await store.insertToken(token('revoked', {createdAt: T0 + 1, revokedAt: T0 + 5}))
      await store.insertToken(token('in-grace', {createdAt: T0 + 1, revokedAt: T0 + 60_000}))
      const ids = async (options: Parameters<Store['listTokens']>[0]) => (await store.listTokens(options)).map((one) => one.jti)
      expect(await ids({includeRevoked: true, now: T0 + 10})).toEqual(['Z-first', 'a-first', 'in-grace', 'revoked', 'b-later'])
      expect(await ids({includeRevoked: false, now: T0 + 10})).toEqual(['Z-first', 'a-first', 'in-grace', 'b-later'])
      expect(await ids({includeRevoked: false, subject: 'me', now: T0 + 10})).toEqual(['a-first', 'in-grace', 'b-later'])
      expect(await ids({includeRevoked: true, subject: 'you', now: T0 + 10})).toEqual(['Z-first'])
      expect(await ids({includeRevoked: false, now: T0 + 60_000})).toEqual(['Z-first', 'a-first', 'b-later'])
    })

    it('record the last use: raised, never lowered, the address kept when a use brings none', async () => {
      await store.insertToken(token('used'))
      await store.insertToken(token('other'))
      await store.recordLastUsed(new Map([['used', {at: T0 + 10, ip: '192.0.2.1'}], ['other', {at: T0 + 1, ip: 'x'.repeat(65)}]]))
      await (await another()).recordLastUsed(new Map([['used', {at: T0 + 5, ip: '192.0.2.2'}]]))
      expect(await store.getToken('used')).toMatchObject({lastUsedAt: T0 + 10, lastUsedIp: '192.0.2.1'})
      await store.recordLastUsed(new Map([['used', {at: T0 + 20, ip: null}], ['nope', {at: T0, ip: null}]]))
      expect(await store.getToken('used')).toMatchObject({lastUsedAt: T0 + 20, lastUsedIp: '192.0.2.1'})
      expect(await store.getToken('other')).toMatchObject({lastUsedAt: T0 + 1, lastUsedIp: null})
      await store.recordLastUsed(new Map())
    })
  })

  describe('revocation', () => {
    beforeEach(withIssuer)

    it('says what happened: revoked, already revoked, not found; a revocation scheduled later is brought forward', async () => {
      await store.insertToken(token('t'))
      await store.insertToken(token('grace', {revokedAt: T0 + 3_600_000}))
      expect(await store.revokeToken('t', T0 + 1)).toEqual({outcome: 'revoked', descendants: []})
      expect(await (await another()).getTokenState('t')).toMatchObject({revokedAt: T0 + 1})
      expect(await store.revokeToken('t', T0 + 2)).toEqual({outcome: 'already_revoked', descendants: []})
      expect(await store.getToken('t')).toMatchObject({revokedAt: T0 + 1})
      expect(await store.revokeToken('nope', T0)).toEqual({outcome: 'not_found', descendants: []})
      expect(await store.revokeToken('grace', T0 + 5)).toEqual({outcome: 'revoked', descendants: []})
      expect(await store.getToken('grace')).toMatchObject({revokedAt: T0 + 5})
    })

    it('cascades to every token minted through it, through those, and through the tokens it replaced', async () => {
      // root was rotated to root2; child was minted through root, grandchild through child,
      // child2 through root2, and late was minted through root (the old one) before its rotation.
      await store.insertToken(token('root', {rotatedTo: 'root2', revokedAt: T0}))
      await store.insertToken(token('root2'))
      await store.insertToken(token('child', {parent: 'root'}))
      await store.insertToken(token('grandchild', {parent: 'child'}))
      await store.insertToken(token('child2', {parent: 'root2'}))
      await store.insertToken(token('done', {parent: 'root2', revokedAt: T0}))
      await store.insertToken(token('stranger'))

      expect(await store.revokeToken('root2', T0 + 1, {cascade: true})).toEqual({
        outcome: 'revoked',
        descendants: ['child', 'child2', 'grandchild'],
      })
      expect(await store.getToken('stranger')).toMatchObject({revokedAt: null})
      expect(await store.getToken('done')).toMatchObject({revokedAt: T0})
      // Already revoked, and so is everything below it: nothing more to do.
      expect(await store.revokeToken('root2', T0 + 2, {cascade: true})).toEqual({outcome: 'already_revoked', descendants: []})
      // Without cascade, children stay.
      await store.insertToken(token('solo'))
      await store.insertToken(token('kid', {parent: 'solo'}))
      expect(await store.revokeToken('solo', T0 + 3)).toEqual({outcome: 'revoked', descendants: []})
      expect(await store.getTokenState('kid')).toMatchObject({revokedAt: null})
      // A revoked token can still be cascaded from, to reach the children it left alive.
      expect(await store.revokeToken('solo', T0 + 4, {cascade: true})).toEqual({outcome: 'already_revoked', descendants: ['kid']})
    })
  })

  describe('rotation', () => {
    beforeEach(withIssuer)

    it('replaces a token once: the old one marked, to be revoked at the end of its grace', async () => {
      await store.insertToken(token('old'))
      expect(await store.rotateToken('old', token('new', {createdAt: T0 + 10}), T0 + 1000)).toBe(true)
      expect(await store.getToken('old')).toMatchObject({rotatedTo: 'new', revokedAt: T0 + 1000})
      expect(await store.getToken('new')).toEqual(token('new', {createdAt: T0 + 10}))
      // Rotated already, or revoked: nothing is created.
      expect(await (await another()).rotateToken('old', token('again', {createdAt: T0 + 20}), T0 + 20)).toBe(false)
      await store.insertToken(token('gone', {revokedAt: T0}))
      expect(await store.rotateToken('gone', token('heir', {createdAt: T0 + 30}), T0 + 30)).toBe(false)
      expect(await store.getToken('again')).toBeUndefined()
      expect(await store.getToken('heir')).toBeUndefined()
    })

    it('of two processes rotating one token at once, one wins', async () => {
      await store.insertToken(token('old'))
      const other = await another()
      const results = await Promise.all([
        store.rotateToken('old', token('mine', {createdAt: T0 + 10}), T0 + 10),
        other.rotateToken('old', token('theirs', {createdAt: T0 + 10}), T0 + 10),
      ])
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await store.listTokens({includeRevoked: true, now: T0})).map((one) => one.jti).sort()).toHaveLength(2)
    })

    it('reuse revokes every successor and whatever was minted through the line; a never-rotated token costs nothing', async () => {
      await store.insertToken(token('first', {rotatedTo: 'second', revokedAt: T0}))
      await store.insertToken(token('second', {rotatedTo: 'third', revokedAt: T0 + 60_000}))
      await store.insertToken(token('third'))
      await store.insertToken(token('minted', {parent: 'second'}))
      await store.insertToken(token('plain'))
      expect(await store.revokeSuccessors('plain', T0 + 1)).toEqual([])
      expect(await store.revokeSuccessors('nope', T0 + 1)).toEqual([])
      expect(await store.revokeSuccessors('first', T0 + 1)).toEqual(['second', 'third', 'minted'])
      expect(await store.getToken('second')).toMatchObject({revokedAt: T0 + 1})
      expect(await store.getToken('plain')).toMatchObject({revokedAt: null})
      expect(await store.revokeSuccessors('first', T0 + 2)).toEqual([])
    })
  })

  describe('prepared tokens', () => {
    beforeEach(withIssuer)
    const foreign = {issuer: 'https://elsewhere', audience: ['them']}

    it('import with their key once; the same again changes nothing; a clash is named', async () => {
      const epoch = await store.keyEpoch()
      expect(await store.importToken(token('p1', {kid: 'fk'}), key('fk', T0, foreign))).toBe('imported')
      expect(await store.keyEpoch()).toBe(epoch + 1)
      await store.revokeToken('p1', T0 + 1)
      expect(await (await another()).importToken(token('p1', {kid: 'fk'}), key('fk', T0, foreign))).toBe('already_imported')
      expect(await store.getToken('p1')).toMatchObject({revokedAt: T0 + 1})
      expect(await store.importToken(token('p1', {kid: 'other'}), key('other', T0, foreign))).toBe('token_conflict')
      // The same key again, for another token: it is not added twice.
      expect(await store.importToken(token('p2', {kid: 'fk'}), key('fk', T0, foreign))).toBe('imported')
      expect(await store.keyEpoch()).toBe(epoch + 1)
      // A known kid claimed for another issuer, or this issuer's own kid claimed by a foreign one.
      expect(await store.importToken(token('p3', {kid: 'fk'}), key('fk', T0, {issuer: 'https://evil', audience: ['them']}))).toBe('key_conflict')
      expect(await store.importToken(token('p4', {kid: 'k1'}), key('k1', T0, foreign))).toBe('key_conflict')
      expect(await store.importToken(token('p5', {kid: 'k1'}), key('k1'))).toBe('imported')
      expect((await store.listKeys()).map((one) => [one.kid, one.foreign])).toEqual([
        ['k1', null],
        ['fk', foreign],
      ])
    })

    it('of processes importing one token at once, one imports it', async () => {
      const stores = [store, await another(), await another()]
      const outcomes = await Promise.all(stores.map((one) => one.importToken(token('p1', {kid: 'fk'}), key('fk', T0, foreign))))
      expect(outcomes.sort()).toEqual(['already_imported', 'already_imported', 'imported'])
    })
  })

  describe('rate limits', () => {
    beforeEach(withIssuer)

    it('count exactly across processes counting at once, and start again in a new window', async () => {
      const other = await another()
      const counts = await Promise.all(Array.from({length: 60}, (_, index) => (index % 2 ? store : other).countUse('t', 1000)))
      expect(counts.sort((a, b) => a - b)).toEqual(Array.from({length: 60}, (_, index) => index + 1))
      expect(await other.peekUse('t', 1000)).toBe(60)
      expect(await store.peekUse('t', 1000)).toBe(60)
      expect(await store.peekUse('t', 1060)).toBe(0)
      expect(await store.countUse('t', 1060)).toBe(1)
      expect(await other.peekUse('t', 1000)).toBe(0)
      expect(await store.peekUse('never', 1000)).toBe(0)
    })
  })

  describe('signing keys', () => {
    beforeEach(withIssuer)

    it('a new active key and a retirement change the epoch, seen by every process', async () => {
      const other = await another()
      const epoch = await other.keyEpoch()
      await store.addActiveKey(key('k2', T0 + 1))
      expect(await other.keyEpoch()).toBe(epoch + 1)
      expect(await other.getIssuer()).toMatchObject({activeKid: 'k2'})
      expect((await other.listKeys()).map((one) => one.kid)).toEqual(['k1', 'k2'])

      expect(await store.retireKey('k2', T0 + 2)).toBe('active')
      expect(await store.retireKey('nope', T0 + 2)).toBe('not_found')
      expect(await other.retireKey('k1', T0 + 2)).toBe('retired')
      expect(await store.keyEpoch()).toBe(epoch + 2)
      expect(await store.retireKey('k1', T0 + 3)).toBe('already_retired')
      expect(await store.keyEpoch()).toBe(epoch + 2)
      expect((await store.listKeys()).find((one) => one.kid === 'k1')).toMatchObject({retiredAt: T0 + 2})
    })

    it('a key that came with a prepared token is not this issuer’s to retire', async () => {
      await store.importToken(token('p1', {kid: 'fk'}), key('fk', T0, {issuer: 'https://elsewhere', audience: ['them']}))
      expect(await store.retireKey('fk', T0 + 1)).toBe('not_found')
    })

    it.runIf(backend.shared)('a key another instance signs with is listed for all and changes the epoch, but is not the active one', async () => {
      const epoch = await store.keyEpoch()
      await (await another()).addKey?.(key('theirs', T0 + 1))
      expect(await store.keyEpoch()).toBe(epoch + 1)
      expect(await store.getIssuer()).toMatchObject({activeKid: 'k1'})
      expect((await store.listKeys()).map((one) => one.kid)).toEqual(['k1', 'theirs'])
      expect(await store.retireKey('theirs', T0 + 2)).toBe('retired')
    })

    it.runIf(!backend.shared)('has no keys but the one CAPE_HOME’s, so no key of another instance to add', () => {
      expect(store.addKey).toBeUndefined()
    })

    it('keys made in the same millisecond are listed in the order they were added', async () => {
      await store.addActiveKey(key('zz', T0))
      await store.addActiveKey(key('aa', T0))
      expect((await store.listKeys()).map((one) => one.kid)).toEqual(['k1', 'zz', 'aa'])
    })
  })

  describe('the trail', () => {
    beforeEach(withIssuer)

    it('keeps entries in order, cuts long details, and keeps the newest 200 per token', async () => {
      await store.insertToken(token('t'))
      await store.appendAudit([
        {jti: 't', at: T0 + 1, event: 'refused', detail: 'x'.repeat(600), count: 3},
        {jti: 'u', at: T0 + 1, event: 'refused', detail: null, count: 1},
      ])
      expect(await store.listAudit('t')).toEqual([{jti: 't', at: T0 + 1, event: 'refused', detail: 'x'.repeat(500), count: 3}])
      const other = await another()
      for (let batch = 0; batch < 5; batch++) {
        await (batch % 2 ? store : other).appendAudit(
          Array.from({length: 50}, (_, index) => ({jti: 't', at: T0 + batch * 50 + index, event: 'refused', detail: `${batch * 50 + index}`, count: 1})),
        )
      }

      const trail = await store.listAudit('t')
      expect(trail).toHaveLength(200)
      expect(trail[0]!.detail).toBe('50')
      expect(trail.at(-1)!.detail).toBe('249')
      expect(await store.listAudit('u')).toHaveLength(1)
      await store.appendAudit([])
    })
  })
})
