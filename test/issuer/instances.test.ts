import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {tempHome} from '../helpers/cli.js'
import {createTestDatabase, emptyDatabase, postgresSkipReason, type TestDatabase} from '../helpers/postgres.js'

const KEY_CHECK_MS = 1100

/**
 * Several issuer instances on one PostgreSQL database, each with its own CAPE_HOME (its own
 * private keys), as on several machines behind a load balancer.
 */
describe.skipIf(postgresSkipReason !== undefined)('instances sharing one PostgreSQL database', () => {
  let database: TestDatabase
  const dirs: Array<ReturnType<typeof tempHome>> = []
  let a: LocalIssuer
  let b: LocalIssuer

  const instance = (dir: ReturnType<typeof tempHome>) => LocalIssuer.open({home: dir.home, databaseUrl: database.url})
  const kidsOf = async (issuer: LocalIssuer) => (await issuer.jwks()).keys.map((key) => key.kid).sort()
  const pause = () => new Promise((resolve) => setTimeout(resolve, KEY_CHECK_MS))

  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database?.drop())
  beforeEach(async () => {
    await emptyDatabase(database.url)
    dirs.push(tempHome(), tempHome())
    a = await instance(dirs[0]!)
    b = await instance(dirs[1]!)
  })
  afterEach(async () => {
    await Promise.all([a.close(), b.close()])
    for (const dir of dirs.splice(0)) dir.cleanup()
  })

  it('each signs with a key of its own, registered for all: every JWKS lists them all, every instance verifies every token', async () => {
    const fromA = await a.createToken({name: 'from a'})
    const fromB = await b.createToken({name: 'from b'})
    expect(fromB.kid).not.toBe(fromA.kid)
    // B holds its own private key only; A's never left A.
    expect(readdirSync(join(dirs[1]!.home, 'keys'))).toEqual([`${fromB.kid}.private.jwk`])
    expect(await kidsOf(a)).toEqual([fromA.kid, fromB.kid].sort())
    expect(await kidsOf(b)).toEqual([fromA.kid, fromB.kid].sort())

    // A verified with its key set before B's key existed: it asks the store again within a second.
    await pause()
    expect(await a.verifyToken(fromB.token)).toMatchObject({valid: true, id: fromB.id})
    expect(await b.verifyToken(fromA.token)).toMatchObject({valid: true, id: fromA.id})
    // B keeps its key: a second token is signed with it, no third key appears.
    expect((await b.createToken({name: 'again'})).kid).toBe(fromB.kid)
    expect(await kidsOf(a)).toHaveLength(2)
  })

  it('a key rotated on one is served by the others at once, and the others keep signing with their own', async () => {
    const fromB = await b.createToken({name: 'from b'})
    const rotated = await a.rotateSigningKey()
    expect(await kidsOf(b)).toContain(rotated.kid)
    await pause()
    expect((await a.createToken({name: 'after'})).kid).toBe(rotated.kid)
    expect((await b.createToken({name: 'after'})).kid).toBe(fromB.kid)
    expect(await b.verifyToken((await a.createToken({name: 'check'})).token)).toMatchObject({valid: true})
  })

  it('a token revoked on one is refused by the other; a rate limit is shared exactly', async () => {
    const token = await a.createToken({name: 'shared', restrictions: {rateLimit: {maxRequests: 5, timeWindow: 3600}}})
    const request = {request: {ip: '192.0.2.1'}}
    const results = []
    for (let use = 0; use < 8; use++) results.push(await (use % 2 ? a : b).verifyToken(token.token, request))
    expect(results.map((result) => (result.valid ? 'ok' : result.reason))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited', 'rate_limited'])

    // B's first token brings B's key, which A's loaded key set learns within a key check.
    const plain = await b.createToken({name: 'plain'})
    await pause()
    expect(await a.verifyToken(plain.token)).toMatchObject({valid: true})
    await b.revokeToken(plain.id)
    // A holds the token's state in memory; B's revocation reaches it by NOTIFY, within the bound.
    await expect.poll(() => a.verifyToken(plain.token), {timeout: 1000, interval: 10}).toEqual({valid: false, reason: 'revoked'})
  })
})
