import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp} from '../../src/server/app.js'
import {parseJson, runCli, tempHome, tokenFrom} from '../helpers/cli.js'
import {openTestIssuer} from '../helpers/issuer.js'
import {closedPort} from '../helpers/serve.js'

/** The CLI in remote mode: its own CAPE_HOME, and a real issuer service on 127.0.0.1. */
describe('the CLI against an issuer service', () => {
  const client = tempHome()
  let issuer: LocalIssuer
  let cleanup: () => Promise<void>
  let app: FastifyInstance
  let url: string
  let admin: {token: string; id: string}
  const run = (args: string[], options: {input?: string; env?: Record<string, string | undefined>} = {}) =>
    runCli(args, {home: client.home, ...options})

  beforeAll(async () => {
    ;({issuer, cleanup} = await openTestIssuer())
    const created = await issuer.createToken({name: 'alice laptop', subject: 'alice', scopes: ['*']})
    admin = {token: created.token, id: created.id}
    await issuer.createToken({name: 'bob laptop', subject: 'bob', scopes: ['*']})
    const settings = (await issuer.settings())!
    app = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => url})
    url = await app.listen({host: '127.0.0.1', port: 0})
  })
  afterAll(async () => {
    await app?.close()
    await cleanup?.()
    client.cleanup()
  })

  it('logs in at the service, remembers its URL, and runs the token commands there', async () => {
    const login = await run(['login', '--with-token', '--insecure-storage', '--issuer-url', url], {input: admin.token})
    expect(login.code).toBe(0)
    expect(login.stdout).toContain(`Logged in as alice with token "alice laptop" (${admin.id})`)
    expect(login.stdout).toContain(`for the issuer at ${url}`)
    const config = parseJson(readFileSync(join(client.home, 'config.json'), 'utf8'))
    expect(config.profiles.default).toMatchObject({issuerUrl: url, tokenId: admin.id})

    const whoami = await run(['whoami', '--json'])
    expect(whoami.code).toBe(0)
    expect(parseJson(whoami.stdout)).toMatchObject({subject: 'alice', id: admin.id, name: 'alice laptop'})

    const created = await run(['token', 'create', '-n', 'ci', '--account', 'acme', '--scope', 'api'])
    expect(created.code).toBe(0)
    const ci = tokenFrom(created.stdout)
    const ciId = parseJson(Buffer.from(ci.split('.')[1]!, 'base64url').toString()).jti as string
    expect(await issuer.verifyToken(ci, {account: 'acme'})).toMatchObject({valid: true, subject: 'alice', id: ciId})

    // Only the caller's own subject's tokens, in the same table as locally.
    const listed = await run(['token', 'list'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain('alice laptop')
    expect(listed.stdout).toContain(`│ ${ciId} │ ci `)
    expect(listed.stdout).not.toContain('bob laptop')

    expect((await run(['token', 'verify', '-'], {input: ci})).stdout).toContain(`Valid token ${ciId} ("ci")`)
    const wrongAccount = await run(['token', 'verify', '-', '--account', 'other', '--json'], {input: ci})
    expect(wrongAccount.code).toBe(1)
    expect(parseJson(wrongAccount.stdout)).toEqual({valid: false, reason: 'wrong_account'})

    expect(await run(['token', 'delete', ciId])).toMatchObject({code: 0, stdout: `Deleted token ${ciId}\n`})
    const revoked = await run(['token', 'verify', '-', '--json'], {input: ci})
    expect(revoked.code).toBe(1)
    expect(parseJson(revoked.stdout)).toEqual({valid: false, reason: 'revoked'})
    expect(await run(['token', 'delete', ciId])).toMatchObject({code: 1, stderr: `Error: token ${ciId} is already revoked\n`})

    // Rotation and the trail go through the service too.
    const rotating = tokenFrom((await run(['token', 'create', '-n', 'rotating', '--account', 'acme'])).stdout)
    const rotatingId = parseJson(Buffer.from(rotating.split('.')[1]!, 'base64url').toString()).jti as string
    const rotated = await run(['token', 'rotate', rotatingId, '--grace', '10m', '--json'])
    expect(rotated.code).toBe(0)
    expect(parseJson(rotated.stdout)).toMatchObject({name: 'rotating', account: 'acme', previous: {id: rotatingId, status: 'active'}})
    const shown = await run(['token', 'show', rotatingId, '--json'])
    expect(parseJson(shown.stdout).trail.map((entry: {event: string}) => entry.event)).toEqual(['created', 'rotated'])

    // Nothing of the issuer's lives on the client: no database, no keys.
    expect(existsSync(join(client.home, 'cape.db'))).toBe(false)
    expect(existsSync(join(client.home, 'keys'))).toBe(false)
  })

  it("says what the service refuses, in the CLI's own words and exit codes", async () => {
    const noAccount = await run(['token', 'create', '-n', 'x'])
    expect(noAccount).toMatchObject({code: 2, stderr: `Error: ${url} mints only account-bound tokens: pass --account ID\n`})
    const tooMuch = await run(['token', 'create', '-n', 'x', '--account', 'a', '--scope', 'metrics'])
    expect(tooMuch).toMatchObject({code: 1, stderr: 'Error: a token minted through the API cannot carry "metrics"\n'})
    const bobs = (await issuer.listTokens({subject: 'bob'}))[0]!
    expect(await run(['token', 'delete', bobs.id])).toMatchObject({code: 1, stderr: `Error: no token ${bobs.id}\n`})

    const json = await run(['token', 'create', '-n', 'x', '--json'])
    expect(json.code).toBe(2)
    expect(parseJson(json.stdout)).toEqual({error: {code: 'invalid_argument', message: `${url} mints only account-bound tokens: pass --account ID`}})
  })

  it('works from CAPE_ISSUER_URL and CAPE_TOKEN alone, and fails in one line when the service is out of reach', async () => {
    const bare = tempHome()
    try {
      const env = {CAPE_ISSUER_URL: url, CAPE_TOKEN: admin.token}
      const listed = await runCli(['token', 'list', '--json'], {home: bare.home, env})
      expect(listed.code).toBe(0)
      expect(parseJson<Array<{subject: string}>>(listed.stdout).every((token) => token.subject === 'alice')).toBe(true)

      const port = await closedPort()
      const down = await runCli(['token', 'list'], {home: bare.home, env: {...env, CAPE_ISSUER_URL: `http://127.0.0.1:${port}`}})
      expect(down).toMatchObject({
        code: 3,
        stderr: `Error: cannot reach the issuer at http://127.0.0.1:${port}: connection refused (is "cape issuer serve" running there?)\n`,
      })
      const plain = await runCli(['whoami', '--issuer-url', 'http://cape.example.com'], {home: bare.home, env})
      expect(plain.code).toBe(2)
      expect(plain.stderr).toMatch(/^Error: issuer URL http:\/\/cape\.example\.com must use https/)

      const noToken = await runCli(['token', 'list'], {home: bare.home, env: {CAPE_ISSUER_URL: url}})
      expect(noToken.code).toBe(4)
    } finally {
      bare.cleanup()
    }
  })

  it('logout --revoke revokes the stored token at the service, even one without scope "tokens"', async () => {
    const narrow = await issuer.createToken({name: 'narrow', subject: 'carol', scopes: ['api']})
    const home = tempHome()
    try {
      const login = await runCli(['login', '--with-token', '--insecure-storage', '--issuer-url', url], {home: home.home, input: narrow.token})
      expect(login.code).toBe(0)
      const logout = await runCli(['logout', '--revoke'], {home: home.home})
      expect(logout.code).toBe(0)
      expect(logout.stdout).toContain(`Token "narrow" (${narrow.id}) is revoked.`)
      expect(await issuer.verifyToken(narrow.token)).toEqual({valid: false, reason: 'revoked'})

      // The service applies the credential's own restrictions to the CLI's requests.
      const fenced = await issuer.createToken({name: 'fenced', subject: 'carol', scopes: ['api'], restrictions: {addresses: ['10.0.0.1']}})
      const refused = await runCli(['whoami', '--json'], {home: home.home, env: {CAPE_ISSUER_URL: url, CAPE_TOKEN: fenced.token}})
      expect(refused.code).toBe(1)
      expect(parseJson(refused.stdout).error).toMatchObject({code: 'invalid_token', reason: 'ip_not_allowed'})

      // A refused credential is named as such by the service.
      const whoami = await runCli(['whoami', '--json'], {home: home.home, env: {CAPE_ISSUER_URL: url, CAPE_TOKEN: narrow.token}})
      expect(whoami.code).toBe(1)
      expect(parseJson(whoami.stdout).error).toMatchObject({code: 'invalid_token', reason: 'revoked'})
    } finally {
      home.cleanup()
    }
  })
})
