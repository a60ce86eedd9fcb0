import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {InsecureFileStore} from '../../src/credentials/insecure-file.js'
import {ProfileConfig} from '../../src/credentials/profiles.js'
import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {parseJson, runCli, tempHome} from '../helpers/cli.js'
import {createToken} from '../helpers/tokens.js'

const DAY = 86_400_000

describe('a credential near or past its expiry', () => {
  let dir: ReturnType<typeof tempHome>
  const run = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, {home: dir.home, env})

  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => dir.cleanup())

  /** A token issued `ago` ms ago for `lifetime` ms, by the same issuer the CLI uses. */
  async function issuedEarlier(name: string, agoMs: number, lifetimeMs: number) {
    const issuer = await LocalIssuer.open({home: dir.home, now: () => Date.now() - agoMs})
    try {
      return await issuer.createToken({name, expiresInSeconds: lifetimeMs / 1000})
    } finally {
      await issuer.close()
    }
  }

  /** As if `cape login --insecure-storage` had saved it while it was still valid. */
  async function saveAsLoggedIn(token: {token: string; id: string; name: string; subject: string; expiresAt: string | null}) {
    await new InsecureFileStore(`${dir.home}/credentials`).set('default', token.token)
    const config = ProfileConfig.load(dir.home)
    config.setRecord('default', {storage: 'file', tokenId: token.id, name: token.name, subject: token.subject, expiresAt: token.expiresAt, savedAt: new Date().toISOString()})
    config.setActive('default')
    config.save()
  }

  it('warns on stderr within 7 days of expiry, and still works', async () => {
    const {token} = await createToken('soon', {home: dir.home}, ['--expires-in', '3d'])
    const result = await run(['whoami', '--json'], {CAPE_TOKEN: token})
    expect(result.code).toBe(0)
    expect(parseJson(result.stdout)).toMatchObject({name: 'soon'})
    expect(result.stderr).toMatch(/^Warning: your token "soon" expires in 3 days \(\w{3} \d\d \d{4} \d\d:\d\d\): set CAPE_TOKEN to a valid token\n$/)

    const later = await createToken('later', {home: dir.home}, ['--expires-in', '8d'])
    expect((await run(['whoami'], {CAPE_TOKEN: later.token})).stderr).toBe('')
  })

  it('names an expired stored token and says how to replace it', async () => {
    const expired = await issuedEarlier('old laptop', 2 * DAY, DAY)
    await saveAsLoggedIn(expired)
    const result = await run(['whoami'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      new RegExp(
        `^Error: your token "old laptop" \\(${expired.id}\\) expired on \\w{3} \\d\\d \\d{4} \\d\\d:\\d\\d: create a new one with "cape token create --name 'old laptop' --save", or store another with "cape login"\\n$`,
      ),
    )
    const json = parseJson((await run(['whoami', '--json'])).stdout)
    expect(json.error).toMatchObject({code: 'invalid_token', reason: 'expired'})

    const status = await run(['auth', 'status'])
    expect(status.code).toBe(1)
    expect(status.stdout).toContain('Status:   refused by the issuer (expired)')
  })

  it('names a revoked token, and names nothing it cannot vouch for', async () => {
    const {token, id} = await createToken('gone', {home: dir.home})
    expect((await run(['token', 'delete', id])).code).toBe(0)
    const revoked = await run(['whoami'], {CAPE_TOKEN: token})
    expect(revoked.code).toBe(1)
    expect(revoked.stderr).toBe(`Error: your token "gone" (${id}) has been revoked: set CAPE_TOKEN to a valid token\n`)

    // A forged signature over a real jti must not borrow that token's name.
    const [header, payload] = token.split('.')
    const forged = await run(['whoami'], {CAPE_TOKEN: `${header}.${payload}.${'A'.repeat(86)}`})
    expect(forged.code).toBe(1)
    expect(forged.stderr).toBe('Error: the token from the CAPE_TOKEN environment variable is not valid (bad_signature): set CAPE_TOKEN to a valid token\n')
  })

  it('logout --revoke revokes an expired stored token too, and forgets it', async () => {
    const expired = await issuedEarlier('old', 2 * DAY, DAY)
    await saveAsLoggedIn(expired)
    const result = await run(['logout', '--revoke'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Token "old" (${expired.id}) is revoked.`)
    const listed = parseJson<Array<{id: string; status: string}>>((await run(['token', 'list', '--all', '--json'])).stdout)
    expect(listed.find((token) => token.id === expired.id)?.status).toBe('revoked')
  })
})
