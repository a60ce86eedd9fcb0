import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {parseJson, runCli, tokenFrom} from '../helpers/cli.js'
import {lockStore, openTestIssuer} from '../helpers/issuer.js'

type TestIssuer = Awaited<ReturnType<typeof openTestIssuer>>

const HOUR = 3600_000

/** exp - iat of a token, in seconds. */
const lifetimeOf = ({token}: {token: string}) => {
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {exp: number; iat: number}
  return claims.exp - claims.iat
}

describe('token lifecycle', () => {
  let t: TestIssuer
  beforeEach(async () => {
    t = await openTestIssuer()
  })
  afterEach(async () => t.cleanup())

  const trailOf = async (id: string) => (await t.issuer.tokenTrail(id)).map(({event, detail}) => ({event, detail}))

  describe('rotation', () => {
    it('keeps what the token was, and its lifetime from now', async () => {
      const old = await t.issuer.createToken({
        name: 'ci',
        description: 'deploys',
        scopes: ['api', 'tokens'],
        account: 'acme',
        expiresInSeconds: 30 * 86_400,
        restrictions: {addresses: ['10.0.0.0/8'], rateLimit: {maxRequests: 5, timeWindow: 60}},
      })
      t.clock.now += 10 * 86_400_000
      const rotated = await t.issuer.rotateToken(old.id)
      expect(rotated).toMatchObject({
        name: 'ci',
        description: 'deploys',
        scopes: ['api', 'tokens'],
        account: 'acme',
        restrictions: {addresses: ['10.0.0.0/8'], rateLimit: {maxRequests: 5, timeWindow: 60}},
        status: 'active',
        previous: {id: old.id, status: 'revoked', rotatedTo: rotated.id},
      })
      expect(lifetimeOf(rotated)).toBe(30 * 86_400)
      expect(await t.issuer.verifyToken(rotated.token)).toMatchObject({valid: true, id: rotated.id})
      // With no grace period, any later use of the old token is reuse.
      expect(await t.issuer.verifyToken(old.token)).toEqual({valid: false, reason: 'revoked'})
      expect(await t.issuer.verifyToken(rotated.token)).toEqual({valid: false, reason: 'revoked'})
    })

    it('lets the old token work through its grace period, then refuses it', async () => {
      const old = await t.issuer.createToken({name: 'ci'})
      const rotated = await t.issuer.rotateToken(old.id, {graceSeconds: 3600})
      expect(rotated.previous).toMatchObject({status: 'active', rotatedTo: rotated.id})
      // Both listed while the old one is in its grace period.
      expect((await t.issuer.listTokens()).map((token) => token.id).sort()).toEqual([old.id, rotated.id].sort())

      t.clock.now += HOUR - 1000
      expect(await t.issuer.verifyToken(old.token)).toMatchObject({valid: true})
      t.clock.now += 1000
      expect(await t.issuer.verifyToken(old.token)).toEqual({valid: false, reason: 'revoked'})
      expect(await t.issuer.getToken(old.id)).toMatchObject({status: 'revoked'})
      await expect(t.issuer.rotateToken(old.id)).rejects.toMatchObject({code: 'token_inactive'})
    })

    it('takes use of a rotated-away token as a leak: its successors are revoked too, and the trail says so', async () => {
      const first = await t.issuer.createToken({name: 'ci'})
      const second = await t.issuer.rotateToken(first.id)
      const third = await t.issuer.rotateToken(second.id, {graceSeconds: 60})
      expect(await t.issuer.verifyToken(third.token)).toMatchObject({valid: true})

      t.clock.now += 1000
      expect(await t.issuer.verifyToken(first.token)).toEqual({valid: false, reason: 'revoked'})
      // The whole line after it goes, including the token still in its grace period.
      expect(await t.issuer.verifyToken(second.token)).toEqual({valid: false, reason: 'revoked'})
      expect(await t.issuer.verifyToken(third.token)).toEqual({valid: false, reason: 'revoked'})

      expect(await trailOf(first.id)).toEqual([
        {event: 'created', detail: null},
        {event: 'rotated', detail: `replaced by ${second.id}`},
        {event: 'reuse_detected', detail: `used after its rotation: revoked ${second.id}, ${third.id}`},
        {event: 'refused', detail: 'revoked'},
      ])
      expect(await trailOf(third.id)).toEqual([
        {event: 'created', detail: `by rotation of ${second.id}`},
        {event: 'revoked', detail: `reuse of ${first.id} after its rotation`},
        {event: 'refused', detail: 'revoked'},
      ])
    })

    it('refuses to rotate what is revoked, expired or unknown', async () => {
      const revoked = await t.issuer.createToken({name: 'gone'})
      await t.issuer.revokeToken(revoked.id)
      await expect(t.issuer.rotateToken(revoked.id)).rejects.toMatchObject({code: 'token_inactive', message: `token ${revoked.id} is revoked: there is nothing to rotate`})
      await expect(t.issuer.rotateToken('nope')).rejects.toMatchObject({code: 'token_not_found'})
    })
  })

  describe('lifetime policy', () => {
    it('caps new tokens, gives the maximum to those that ask for none, and can be lifted', async () => {
      const limited = await openTestIssuer()
      try {
        await limited.issuer.init({maxLifetimeSeconds: 90 * 86_400})
        await expect(limited.issuer.createToken({name: 'x', expiresInSeconds: 91 * 86_400})).rejects.toMatchObject({
          code: 'invalid_duration',
          message: 'a lifetime of 91d is longer than this issuer allows: at most 90d',
        })
        const defaulted = await limited.issuer.createToken({name: 'y'})
        expect(lifetimeOf(defaulted)).toBe(90 * 86_400)

        expect(await limited.issuer.setMaxLifetime(null)).toMatchObject({maxLifetimeSeconds: null})
        expect((await limited.issuer.createToken({name: 'z'})).expiresAt).toBeNull()
      } finally {
        await limited.cleanup()
      }
    })
  })

  describe('signing keys', () => {
    it('rotation keeps old tokens verifying; retirement refuses them; the JWKS follows each step', async () => {
      const before = await t.issuer.createToken({name: 'before'})
      const [first] = await t.issuer.signingKeys()
      const kidsInJwks = async () => (await t.issuer.jwks()).keys.map((key) => key.kid)
      expect(await kidsInJwks()).toEqual([first!.kid])

      const second = await t.issuer.rotateSigningKey()
      expect(second.status).toBe('active')
      expect((await t.issuer.signingKeys()).map((key) => key.status)).toEqual(['verifying', 'active'])
      expect(await kidsInJwks()).toEqual([first!.kid, second.kid])
      const after = await t.issuer.createToken({name: 'after'})
      expect(after.kid).toBe(second.kid)
      expect(await t.issuer.verifyToken(before.token)).toMatchObject({valid: true})
      expect(await t.issuer.verifyToken(after.token)).toMatchObject({valid: true})

      await expect(t.issuer.retireSigningKey(second.kid)).rejects.toMatchObject({code: 'key_active'})
      await t.issuer.retireSigningKey(first!.kid)
      expect(await kidsInJwks()).toEqual([second.kid])
      expect(await t.issuer.verifyToken(before.token)).toEqual({valid: false, reason: 'unknown_key'})
      expect(await t.issuer.verifyToken(after.token)).toMatchObject({valid: true})
      expect(existsSync(join(t.home, 'keys', `${first!.kid}.private.jwk`))).toBe(false)
      await expect(t.issuer.retireSigningKey(first!.kid)).rejects.toMatchObject({code: 'key_not_found'})
    })

    it('a running issuer stops accepting a key retired by another process within a second', async () => {
      const token = await t.issuer.createToken({name: 'old key'})
      expect(await t.issuer.verifyToken(token.token)).toMatchObject({valid: true})
      const admin = await LocalIssuer.open({home: t.home, databaseUrl: t.databaseUrl})
      try {
        await admin.rotateSigningKey()
        await admin.retireSigningKey(token.kid)
      } finally {
        await admin.close()
      }

      await new Promise((resolve) => setTimeout(resolve, 1100))
      expect(await t.issuer.verifyToken(token.token)).toEqual({valid: false, reason: 'unknown_key'})
      // ...and signs with the new active key.
      expect((await t.issuer.createToken({name: 'new'})).kid).not.toBe(token.kid)
    })
  })

  describe('a locked database', () => {
    it('fails a rate-limited verification closed, with store_busy, rather than letting it through uncounted', async () => {
      const token = await t.issuer.createToken({name: 'limited', restrictions: {rateLimit: {maxRequests: 5, timeWindow: 60}}})
      const unlock = await lockStore(t)
      try {
        await expect(t.issuer.verifyToken(token.token, {request: {ip: '192.0.2.1'}})).rejects.toMatchObject({code: 'store_busy'})
      } finally {
        await unlock()
      }

      expect(await t.issuer.verifyToken(token.token, {request: {ip: '192.0.2.1'}})).toMatchObject({valid: true, rateLimit: {remaining: 4}})
    })
  })

  describe('the audit trail', () => {
    it('records refusals with their reason and address, one entry per burst, capped per token', async () => {
      const token = await t.issuer.createToken({name: 'web', scopes: ['api'], restrictions: {addresses: ['10.0.0.1']}})
      for (let index = 0; index < 5; index++) await t.issuer.verifyToken(token.token, {request: {ip: '192.0.2.1'}})
      await t.issuer.verifyToken(token.token, {requiredScopes: ['tokens']})
      expect((await t.issuer.tokenTrail(token.id)).slice(1)).toEqual([
        {at: expect.any(String), event: 'refused', detail: 'ip_not_allowed from 192.0.2.1', count: 5},
        {at: expect.any(String), event: 'refused', detail: 'insufficient_scope', count: 1},
      ])

      for (let index = 0; index < 250; index++) {
        await t.issuer.verifyToken(token.token, {request: {ip: `192.0.2.${index % 250}`}})
        if (index % 50 === 49) await t.issuer.tokenTrail(token.id)
      }

      const trail = await t.issuer.tokenTrail(token.id)
      expect(trail).toHaveLength(200)
      expect(trail.at(-1)).toMatchObject({detail: 'ip_not_allowed from 192.0.2.249'})
    })
  })
})

describe('token rotate, token show and issuer keys through the CLI', () => {
  it('rotates, shows the trail, and manages keys with one-line answers', async () => {
    const t = await openTestIssuer()
    const run = (args: string[], input?: string) => runCli(args, {home: t.home, input, env: t.env})
    try {
      const old = tokenFrom((await run(['token', 'create', '-n', 'laptop', '--expires-in', '30d'])).stdout)
      const id = parseJson(Buffer.from(old.split('.')[1]!, 'base64url').toString()).jti as string
      const rotated = await run(['token', 'rotate', id, '--grace', '1h'])
      expect(rotated.code).toBe(0)
      const fresh = tokenFrom(rotated.stdout)
      expect(rotated.stderr).toMatch(new RegExp(`^It replaces ${id}, which keeps working until \\w{3} \\d{2} \\d{4} \\d{2}:\\d{2}\\. Copy it now`))
      expect((await run(['token', 'verify', '-'], old)).code).toBe(0)
      expect((await run(['token', 'verify', '-'], fresh)).code).toBe(0)

      const again = await run(['token', 'rotate', id])
      expect(again).toMatchObject({code: 1})
      expect(again.stderr).toMatch(new RegExp(`^Error: token ${id} was already rotated \\(to \\w{22}\\)\\n$`))

      const shown = await run(['token', 'show', id])
      expect(shown.code).toBe(0)
      expect(shown.stdout).toMatch(/Status: +active \(rotated to \w{22}\)/)
      expect(shown.stdout).toMatch(/Revoked: +.* \(at the end of its grace period\)/)
      expect(shown.stdout).toMatch(/│ rotated +│ replaced by \w{22}; it keeps working for 1h/)
      const json = parseJson((await run(['token', 'show', id, '--json'])).stdout)
      expect(json.trail.map((entry: {event: string}) => entry.event)).toEqual(['created', 'rotated'])

      const listed = await run(['token', 'list'])
      expect(listed.stdout).toMatch(/│ in 29 days +│/)

      const keys = parseJson<Array<{kid: string; status: string}>>((await run(['issuer', 'keys', 'list', '--json'])).stdout)
      expect(keys.map((key) => key.status)).toEqual(['active'])
      // A kid may start with "-": after "--" it is never taken for a flag.
      expect((await run(['issuer', 'keys', 'retire', '--', keys[0]!.kid])).stderr).toBe(
        `Error: key ${keys[0]!.kid} is the active key: rotate first ("cape issuer keys rotate")\n`,
      )
      expect((await run(['issuer', 'keys', 'rotate'])).stdout).toMatch(/^New active signing key [\w-]{43} \(EdDSA\)\n$/)
      expect((await run(['issuer', 'keys', 'retire', '--', keys[0]!.kid])).code).toBe(0)
      expect(parseJson((await run(['token', 'verify', '-', '--json'], fresh)).stdout)).toEqual({valid: false, reason: 'unknown_key'})
      expect((await run(['issuer', 'keys', 'retire', 'nope'])).stderr).toBe('Error: no signing key nope of this issuer\n')

      expect((await run(['issuer', 'config', '--max-lifetime', '7d'])).stdout).toContain('tokens live at most 7d')
      const tooLong = await run(['token', 'create', '-n', 'long', '--expires-in', '8d'])
      expect(tooLong).toMatchObject({code: 2, stderr: 'Error: a lifetime of 8d is longer than this issuer allows: at most 7d\n'})
      const soon = await run(['token', 'create', '-n', 'soon'])
      expect(soon.code).toBe(0)
      expect((await run(['token', 'list'])).stdout).toMatch(/│ soon +│ .* │ in 6 days \(soon\) +│/)
    } finally {
      await t.cleanup()
    }
  })
})
