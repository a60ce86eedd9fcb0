import {calculateJwkThumbprint, exportJWK, generateKeyPair} from 'jose'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {LocalIssuer as Issuer} from '../../src/issuer/local-issuer.js'
import {openTestIssuer, signWith, stolenSigningKey} from '../helpers/issuer.js'

type TestIssuer = Awaited<ReturnType<typeof openTestIssuer>>

const decode = (bundle: string) => JSON.parse(Buffer.from(bundle.slice('cape1.'.length), 'base64url').toString('utf8'))
const encode = (value: unknown) => `cape1.${Buffer.from(JSON.stringify(value)).toString('base64url')}`

/** Export from one issuer (its own CAPE_HOME) and import into another, as two deployments would. */
describe('prepared tokens', () => {
  let origin: TestIssuer
  let target: TestIssuer

  beforeEach(async () => {
    origin = await openTestIssuer()
    target = await openTestIssuer()
    await target.issuer.init({issuer: 'https://cape.target.example'})
  })
  afterEach(async () => {
    await origin.cleanup()
    await target.cleanup()
  })

  const importError = (issuer: LocalIssuer, bundle: string) =>
    issuer.importToken(bundle).then(
      () => undefined,
      (error: {code: string; message: string}) => ({code: error.code, message: error.message}),
    )

  it('carries metadata, iss, aud and the public key, and nothing secret', async () => {
    const created = await origin.issuer.createToken({name: 'deploy', description: 'prepared', scopes: ['api', 'tokens'], account: 'acme', expiresInSeconds: 3600})
    const bundle = await origin.issuer.exportToken(created.id)
    expect(bundle).toMatch(/^cape1\.[\w-]+$/)

    const decoded = decode(bundle)
    expect(decoded).toEqual({
      v: 1,
      token: {
        id: created.id,
        name: 'deploy',
        description: 'prepared',
        subject: created.subject,
        scopes: ['api', 'tokens'],
        account: 'acme',
        restrictions: null,
        createdAt: Date.parse(created.createdAt),
        expiresAt: Date.parse(created.expiresAt!),
      },
      issuer: {iss: 'urn:cape:local', aud: ['cape-api']},
      key: {...(await origin.issuer.jwks()).keys[0]},
    })
    expect(decoded.key.d).toBeUndefined()
    for (const part of created.token.split('.')) expect(bundle).not.toContain(part)
  })

  it('makes another issuer accept that token, and only that one', async () => {
    const prepared = await origin.issuer.createToken({name: 'prepared', scopes: ['api']})
    const other = await origin.issuer.createToken({name: 'not exported'})

    const first = await target.issuer.importToken(await origin.issuer.exportToken(prepared.id))
    expect(first).toMatchObject({imported: true, token: {id: prepared.id, name: 'prepared', status: 'active'}})
    expect(await target.issuer.verifyToken(prepared.token, {requiredScopes: ['api']})).toMatchObject({valid: true, id: prepared.id, name: 'prepared'})

    // The imported key vouches for the tokens imported with it, not for the rest of its issuer's.
    expect(await target.issuer.verifyToken(other.token)).toEqual({valid: false, reason: 'unknown_token'})
    // Nor for anything else it might sign, even with a stolen key and a real jti of the target's.
    const own = await target.issuer.createToken({name: 'own'})
    const {key, kid} = await stolenSigningKey(origin.home)
    // The target's own clock, frozen by the test: a wall-clock time would be "not yet valid" on a slow machine.
    const now = Math.floor(target.clock.now / 1000)
    const forged = await signWith(key, {alg: 'EdDSA', kid, typ: 'JWT'}, {aud: ['cape-api'], iat: now, iss: 'urn:cape:local', jti: own.id, nbf: now, sub: 'x'})
    expect(await target.issuer.verifyToken(forged)).toEqual({valid: false, reason: 'unknown_token'})
    // A token of the imported issuer must still carry that issuer's iss and aud.
    const wrongIss = await signWith(key, {alg: 'EdDSA', kid, typ: 'JWT'}, {aud: ['cape-api'], iat: now, iss: 'https://cape.target.example', jti: prepared.id, nbf: now, sub: 'x'})
    expect(await target.issuer.verifyToken(wrongIss)).toEqual({valid: false, reason: 'wrong_issuer'})

    // The target's JWKS publishes its own keys only.
    const kids = (await target.issuer.jwks()).keys.map((jwk) => jwk.kid)
    expect(kids).toHaveLength(1)
    expect(kids).not.toContain(kid)
    expect(await target.issuer.verifyToken(own.token)).toMatchObject({valid: true})
  })

  it('keeps a token\'s restrictions, which its claims carry anyway', async () => {
    const restrictions = {addresses: ['10.0.0.0/8'], rateLimit: {maxRequests: 2, timeWindow: 60}}
    const prepared = await origin.issuer.createToken({name: 'fenced', restrictions})
    const {token} = await target.issuer.importToken(await origin.issuer.exportToken(prepared.id))
    expect(token.restrictions).toEqual(restrictions)
    expect(await target.issuer.verifyToken(prepared.token, {request: {ip: '192.0.2.1'}})).toEqual({valid: false, reason: 'ip_not_allowed'})
    expect(await target.issuer.verifyToken(prepared.token, {request: {ip: '10.1.1.1'}})).toMatchObject({valid: true, rateLimit: {limit: 2, remaining: 1}})
  })

  it('is idempotent, and never brings back a token revoked since', async () => {
    const prepared = await origin.issuer.createToken({name: 'prepared'})
    const bundle = await origin.issuer.exportToken(prepared.id)
    await target.issuer.importToken(bundle)
    const again = await target.issuer.importToken(bundle)
    expect(again).toMatchObject({imported: false, token: {id: prepared.id, status: 'active'}})
    expect(await target.issuer.listTokens({includeRevoked: true})).toHaveLength(1)

    await target.issuer.revokeToken(prepared.id)
    expect(await target.issuer.importToken(bundle)).toMatchObject({imported: false, token: {status: 'revoked'}})
    expect(await target.issuer.verifyToken(prepared.token)).toEqual({valid: false, reason: 'revoked'})
  })

  it('is picked up by an issuer already running in another process', async () => {
    const prepared = await origin.issuer.createToken({name: 'prepared'})
    // The target "server" has verified something, so its keyring is loaded without the new key.
    expect(await target.issuer.verifyToken(prepared.token)).toEqual({valid: false, reason: 'unknown_key'})
    const cli = await Issuer.open({home: target.home, databaseUrl: target.databaseUrl})
    try {
      await cli.importToken(await origin.issuer.exportToken(prepared.id))
    } finally {
      await cli.close()
    }

    // Unknown kids ask the store again at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(await target.issuer.verifyToken(prepared.token)).toMatchObject({valid: true, id: prepared.id})
  })

  it('refuses to export a revoked or expired token, or an unknown id', async () => {
    const revoked = await origin.issuer.createToken({name: 'gone'})
    await origin.issuer.revokeToken(revoked.id)
    const expiring = await origin.issuer.createToken({name: 'short', expiresInSeconds: 60})
    origin.clock.now += 61_000

    await expect(origin.issuer.exportToken(revoked.id)).rejects.toMatchObject({code: 'token_inactive', message: `token ${revoked.id} is revoked: there is nothing to export`})
    await expect(origin.issuer.exportToken(expiring.id)).rejects.toMatchObject({code: 'token_inactive'})
    await expect(origin.issuer.exportToken('nope')).rejects.toMatchObject({code: 'token_not_found'})
  })

  it('refuses a bundle that is not sound, and stores nothing', async () => {
    const prepared = await origin.issuer.createToken({name: 'prepared', expiresInSeconds: 3600})
    const good = decode(await origin.issuer.exportToken(prepared.id))
    const attacker = await generateKeyPair('EdDSA', {crv: 'Ed25519', extractable: true})
    const attackerPublic = await exportJWK(attacker.publicKey)
    const attackerKid = await calculateJwkThumbprint(attackerPublic)

    const cases: Array<[string, string]> = [
      ['garbage', 'not a valid prepared token: it does not start with "cape1." (was it made by "cape token export"?)'],
      ['cape1.!!!', 'not a valid prepared token: it is not base64url'],
      [encode({...good, v: 2}), 'not a valid prepared token: it is not a version 1 bundle'],
      [encode({...good, key: {...good.key, kid: attackerKid}}), "not a valid prepared token: its key's kid is not the key's thumbprint"],
      [encode({...good, key: {...good.key, ...(await exportJWK(attacker.privateKey)), kid: good.key.kid}}), 'not a valid prepared token: it carries a private key; a bundle must hold only the public key'],
      [encode({...good, key: {...good.key, alg: 'HS256'}}), 'not a valid prepared token: its key\'s algorithm "HS256" is not one cape uses'],
      [encode({...good, key: {...good.key, alg: 'ES256'}}), 'not a valid prepared token: its key is not an ES256 key'],
      [encode({...good, token: {...good.token, id: 'short'}}), 'not a valid prepared token: its token id is not a cape token id'],
      [encode({...good, token: {...good.token, name: 'bad\u001b[31mname'}}), 'not a valid prepared token: name must not contain control characters'],
      [encode({...good, token: {...good.token, scopes: ['api', 'no spaces allowed']}}), expect.stringContaining('invalid scope') as unknown as string],
      [encode({...good, token: {...good.token, expiresAt: good.token.createdAt - 1}}), 'not a valid prepared token: it expires before it was created'],
      [encode({...good, issuer: {iss: 'x', aud: []}}), 'not a valid prepared token: it names no audience'],
    ]
    for (const [bundle, message] of cases) {
      expect(await importError(target.issuer, bundle), bundle.slice(0, 40)).toEqual({code: 'invalid_bundle', message})
    }

    expect(await target.issuer.listTokens({includeRevoked: true})).toEqual([])

    target.clock.now += 2 * 3600_000
    expect(await importError(target.issuer, encode(good))).toMatchObject({code: 'token_inactive', message: expect.stringContaining('expired on')})
  })

  it('refuses a bundle whose id or key is already taken by something else', async () => {
    const prepared = await origin.issuer.createToken({name: 'prepared'})
    const good = decode(await origin.issuer.exportToken(prepared.id))
    const own = await target.issuer.createToken({name: 'own'})

    // Same id as a token of the target's, signed by another key.
    expect(await importError(target.issuer, encode({...good, token: {...good.token, id: own.id}}))).toMatchObject({code: 'token_conflict'})
    // The key imported once for one issuer cannot be claimed for another one.
    await target.issuer.importToken(encode(good))
    const second = await origin.issuer.createToken({name: 'second'})
    const secondBundle = decode(await origin.issuer.exportToken(second.id))
    expect(await importError(target.issuer, encode({...secondBundle, issuer: {iss: 'https://evil.example', aud: ['cape-api']}}))).toMatchObject({
      code: 'token_conflict',
      message: expect.stringContaining('already known here for another issuer'),
    })
    expect((await target.issuer.listTokens()).map((token) => token.name).sort()).toEqual(['own', 'prepared'])
  })
})
