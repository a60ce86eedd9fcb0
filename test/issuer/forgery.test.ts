import {exportJWK, generateKeyPair} from 'jose'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {decodeSegment, encodeSegment, openTestIssuer, signWith, stolenSigningKey} from '../helpers/issuer.js'

describe('forged and invalid tokens are refused with the right reason', () => {
  let issuer: LocalIssuer
  let home: string
  let clock: {now: number}
  let cleanup: () => Promise<void>
  let token: string

  beforeEach(async () => {
    ;({issuer, home, clock, cleanup} = await openTestIssuer())
    ;({token} = await issuer.createToken({name: 'victim', scopes: ['api']}))
    expect(await issuer.verifyToken(token)).toMatchObject({valid: true})
  })

  afterEach(() => cleanup())

  const reason = async (candidate: string) => {
    const result = await issuer.verifyToken(candidate)
    return result.valid ? 'valid' : result.reason
  }

  const [header, claims] = [() => decodeSegment(token, 0), () => decodeSegment(token, 1)]
  const signature = () => token.split('.')[2]!

  it('alg none', async () => {
    const unsigned = `${encodeSegment({alg: 'none', typ: 'JWT'})}.${encodeSegment(claims())}.`
    expect(await reason(unsigned)).toBe('unsupported_alg')
    const unsignedWithKid = `${encodeSegment({...header(), alg: 'none'})}.${encodeSegment(claims())}.`
    expect(await reason(unsignedWithKid)).toBe('unsupported_alg')
  })

  it('HS256 signed with the public key as the secret', async () => {
    const {keys} = await issuer.jwks()
    const publicKey = keys[0]!
    for (const secret of [Buffer.from(JSON.stringify(publicKey)), Buffer.from(String(publicKey.x), 'base64url')]) {
      const forged = await signWith(new Uint8Array(secret), {alg: 'HS256', kid: publicKey.kid, typ: 'JWT'}, claims())
      expect(await reason(forged)).toBe('unsupported_alg')
    }
  })

  it('a payload edited under the old signature', async () => {
    const edited = `${token.split('.')[0]}.${encodeSegment({...claims(), sub: 'admin', scope: '*'})}.${signature()}`
    expect(await reason(edited)).toBe('bad_signature')
  })

  it('a signature with one bit flipped', async () => {
    const bytes = Buffer.from(signature(), 'base64url')
    for (const index of [0, 31, bytes.length - 1]) {
      const flipped = Buffer.from(bytes)
      flipped[index]! ^= 0x01
      const forged = `${token.split('.').slice(0, 2).join('.')}.${flipped.toString('base64url')}`
      expect(await reason(forged)).toBe('bad_signature')
    }
  })

  it('a token from another CAPE_HOME', async () => {
    const other = await openTestIssuer()
    try {
      const {token: foreign} = await other.issuer.createToken({name: 'elsewhere'})
      expect(await reason(foreign)).toBe('unknown_key')
    } finally {
      await other.cleanup()
    }
  })

  it('an unknown kid, or none at all', async () => {
    const rest = token.split('.').slice(1).join('.')
    expect(await reason(`${encodeSegment({...header(), kid: 'not-a-key-of-ours'})}.${rest}`)).toBe('unknown_key')
    const {kid: _kid, ...withoutKid} = header()
    expect(await reason(`${encodeSegment(withoutKid)}.${rest}`)).toBe('unknown_key')
  })

  it('a jwk or jku header pointing to an attacker key', async () => {
    const attacker = await generateKeyPair('EdDSA', {crv: 'Ed25519'})
    const attackerJwk = await exportJWK(attacker.publicKey)
    const ourKid = header().kid
    for (const pointer of [{jwk: attackerJwk}, {jku: 'https://attacker.example/jwks.json'}, {x5u: 'https://attacker.example/cert'}]) {
      expect(await reason(await signWith(attacker.privateKey, {alg: 'EdDSA', typ: 'JWT', ...pointer}, claims()))).toBe('unknown_key')
      const withOurKid = await signWith(attacker.privateKey, {alg: 'EdDSA', typ: 'JWT', kid: ourKid, ...pointer}, claims())
      expect(await reason(withOurKid)).toBe('unknown_key')
    }

    // Our kid and the attacker's signature, no pointer: the signature check catches it.
    expect(await reason(await signWith(attacker.privateKey, {alg: 'EdDSA', typ: 'JWT', kid: ourKid}, claims()))).toBe('bad_signature')
  })

  it('an algorithm the key was not made for', async () => {
    const rest = token.split('.').slice(1).join('.')
    expect(await reason(`${encodeSegment({...header(), alg: 'RS256'})}.${rest}`)).toBe('unsupported_alg')
    expect(await reason(`${encodeSegment({...header(), alg: 'Ed25519'})}.${rest}`)).toBe('unsupported_alg')
  })

  it('expired, including from the signature cache', async () => {
    const {token: shortLived} = await issuer.createToken({name: 'short', expiresInSeconds: 60})
    expect(await reason(shortLived)).toBe('valid')
    clock.now += 59_000
    expect(await reason(shortLived)).toBe('valid')
    clock.now += 1_000
    expect(await reason(shortLived)).toBe('expired')
  })

  it('nbf in the future', async () => {
    clock.now += 3_600_000
    const {token: early} = await issuer.createToken({name: 'early'})
    clock.now -= 3_600_000
    expect(await reason(early)).toBe('not_yet_valid')
    clock.now += 3_600_000
    expect(await reason(early)).toBe('valid')
  })

  it('revoked, including from the signature cache', async () => {
    expect(await reason(token)).toBe('valid')
    await issuer.revokeToken(claims().jti)
    expect(await reason(token)).toBe('revoked')
  })

  describe('signed with the real key but with claims we never issue', () => {
    const forge = async (changes: Record<string, unknown>) => {
      const {key, kid} = await stolenSigningKey(home)
      const forged = Object.fromEntries(Object.entries({...claims(), ...changes}).filter(([, value]) => value !== undefined))
      return reason(await signWith(key, {alg: 'EdDSA', kid, typ: 'JWT'}, forged))
    }

    it('another issuer or audience', async () => {
      expect(await forge({iss: 'https://evil.example'})).toBe('wrong_issuer')
      expect(await forge({aud: ['other-api']})).toBe('wrong_audience')
      expect(await forge({aud: 'cape-api'})).toBe('valid')
    })

    it('a jti the store never saw', async () => {
      expect(await forge({jti: 'AAAAAAAAAAAAAAAAAAAAAA'})).toBe('unknown_token')
    })

    it('missing or mistyped claims', async () => {
      expect(await forge({sub: undefined})).toBe('malformed')
      expect(await forge({jti: 'short'})).toBe('malformed')
      expect(await forge({nbf: 'yesterday'})).toBe('malformed')
      expect(await forge({exp: null})).toBe('malformed')
    })

    it('in the order of the design: issuer before time, time before revocation', async () => {
      const past = Math.floor(clock.now / 1000) - 10
      expect(await forge({iss: 'https://evil.example', exp: past})).toBe('wrong_issuer')
      await issuer.revokeToken(claims().jti)
      expect(await forge({exp: past})).toBe('expired')
    })
  })

  it('scopes: exact match or *, never prefix or substring', async () => {
    const {token: readOnly} = await issuer.createToken({name: 'ro', scopes: ['tokens:read']})
    const {token: everything} = await issuer.createToken({name: 'all', scopes: ['*']})
    const scoped = async (candidate: string, required: string[]) => {
      const result = await issuer.verifyToken(candidate, {requiredScopes: required})
      return result.valid ? 'valid' : result.reason
    }

    expect(await scoped(readOnly, ['tokens:read'])).toBe('valid')
    expect(await scoped(readOnly, ['tokens'])).toBe('insufficient_scope')
    expect(await scoped(readOnly, ['tokens:read:all'])).toBe('insufficient_scope')
    expect(await scoped(readOnly, ['read'])).toBe('insufficient_scope')
    expect(await scoped(readOnly, ['tokens:read', 'api'])).toBe('insufficient_scope')
    expect(await scoped(everything, ['tokens', 'metrics'])).toBe('valid')
    expect(await scoped(token, ['api'])).toBe('valid')
  })

  it('hands out cached claims that no caller can alter for the next verification', async () => {
    const first = await issuer.verifyToken(token)
    if (!first.valid) throw new Error('expected a valid token')
    expect(() => Object.assign(first.claims, {sub: 'admin'})).toThrow(TypeError)
    expect(() => (first.scopes as string[]).push('*')).toThrow(TypeError)
    expect(await issuer.verifyToken(token, {requiredScopes: ['*']})).toEqual({valid: false, reason: 'insufficient_scope'})
    expect(await issuer.verifyToken(token)).toMatchObject({valid: true, subject: first.subject})
  })

  it('garbage of every shape is malformed', async () => {
    for (const candidate of ['', 'abc', 'a.b', 'a.b.c.d', '...', `${token}.`, `${token} `, 'é.é.é', 'x'.repeat(9000)]) {
      expect(await reason(candidate)).toBe('malformed')
    }

    expect(await reason(`${encodeSegment([1, 2])}.${token.split('.').slice(1).join('.')}`)).toBe('malformed')
    expect(await reason(`${encodeSegment({...header(), typ: 'at+jwt+evil'})}.${token.split('.').slice(1).join('.')}`)).toBe('malformed')
  })
})
