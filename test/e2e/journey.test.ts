import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseJson, runCli, runCliProcess, tempHome, tokenFrom} from '../helpers/cli.js'

describe('the user journey', () => {
  const dir = tempHome()
  const run = (args: string[], input?: string) => runCli(args, {home: dir.home, input})
  let token = ''
  let id = ''

  beforeAll(async () => {
    const created = await run(['token', 'create', '--name', 'laptop', '-d', 'for my laptop'])
    expect(created).toMatchObject({code: 0})
    token = tokenFrom(created.stdout)
    expect(created.stdout).toBe(`Success! Your token: ${token}\n`)
    expect(created.stderr).toContain('cannot show it again')
    id = parseJson<{jti: string}>(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti
  })

  afterAll(() => dir.cleanup())

  it('creates a JWT with the Cape claims and nothing else', () => {
    const [header, payload] = token.split('.').slice(0, 2).map((part) => parseJson(Buffer.from(part, 'base64url').toString()))
    expect(header).toEqual({alg: 'EdDSA', kid: expect.stringMatching(/^[\w-]{43}$/), typ: 'JWT'})
    expect(Object.keys(payload)).toEqual(['aud', 'iat', 'iss', 'jti', 'nbf', 'scope', 'sub'])
    expect(payload).toMatchObject({aud: ['cape-api'], iss: 'urn:cape:local', scope: 'api'})
    expect(payload.jti).toMatch(/^[0-9A-Za-z]{22}$/)
    expect(payload.nbf).toBe(payload.iat)
  })

  it('lists the token in a table, never the token itself', async () => {
    const listed = await run(['token', 'list'])
    expect(listed.code).toBe(0)
    const lines = listed.stdout.trimEnd().split('\n')
    expect(lines[1]).toMatch(/│ ID +│ NAME +│ DESCRIPTION +│ CREATED AT +│ LAST USED +│ EXPIRES +│/)
    expect(lines[3]).toMatch(new RegExp(`│ ${id} │ laptop │ for my laptop │ \\w{3} \\d{2} \\d{4} \\d{2}:\\d{2} │ never +│ never +│`))
    expect(listed.stdout).not.toContain(token.split('.')[2])
  })

  it('verifies the token from an argument and from stdin', async () => {
    const fromArg = await run(['token', 'verify', token])
    expect(fromArg.code).toBe(0)
    expect(fromArg.stdout).toContain(`Valid token ${id} ("laptop")`)

    const fromStdin = await run(['token', 'verify', '-', '--json'], `${token}\n`)
    expect(fromStdin.code).toBe(0)
    expect(parseJson(fromStdin.stdout)).toMatchObject({valid: true, id, name: 'laptop', subject: expect.any(String)})
  })

  it('records when the token was used, and not when it was only checked', async () => {
    // Everything before this was `token verify`: the owner checking, which records nothing.
    const [checked] = parseJson<Array<{lastUsedAt: string | null}>>((await run(['token', 'list', '--json'])).stdout)
    expect(checked!.lastUsedAt).toBeNull()

    expect((await run(['whoami', '--token', '-'], `${token}\n`)).code).toBe(0)
    const [record] = parseJson<Array<{lastUsedAt: string | null}>>((await run(['token', 'list', '--json'])).stdout)
    expect(record!.lastUsedAt).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/))
  })

  it('checks scopes exactly, never by prefix', async () => {
    const scoped = tokenFrom((await run(['token', 'create', '-n', 'scoped', '--scope', 'tokens:read'])).stdout)
    expect((await run(['token', 'verify', scoped, '--scope', 'tokens:read'])).code).toBe(0)
    // a scope flag before the token does not swallow it
    expect((await run(['token', 'verify', '--scope', 'tokens:read', scoped])).code).toBe(0)
    const prefix = await run(['token', 'verify', scoped, '--scope', 'tokens'])
    expect(prefix).toMatchObject({code: 1, stderr: 'Invalid token: insufficient_scope\n'})
  })

  it('revokes on delete, keeps a tombstone, and the token then fails as revoked', async () => {
    const deleted = await run(['token', 'delete', id])
    expect(deleted).toMatchObject({code: 0, stdout: `Deleted token ${id}\n`})

    const verified = await run(['token', 'verify', token])
    expect(verified).toMatchObject({code: 1, stdout: '', stderr: 'Invalid token: revoked\n'})
    const json = await run(['token', 'verify', token, '--json'])
    expect(json.code).toBe(1)
    expect(parseJson(json.stdout)).toEqual({valid: false, reason: 'revoked'})

    expect((await run(['token', 'list'])).stdout).not.toContain(id)
    const all = await run(['token', 'list', '--all'])
    expect(all.stdout).toMatch(new RegExp(`│ ${id} │ laptop .*│ revoked │`))
  })

  it('refuses to delete a token twice or one that never existed, with exit code 1', async () => {
    expect(await run(['token', 'delete', id])).toMatchObject({code: 1, stderr: `Error: token ${id} is already revoked\n`})
    const unknown = await run(['token', 'delete', 'AAAAAAAAAAAAAAAAAAAAAA', '--json'])
    expect(unknown.code).toBe(1)
    expect(parseJson(unknown.stdout)).toEqual({error: {code: 'token_not_found', message: 'no token with id AAAAAAAAAAAAAAAAAAAAAA'}})
  })

  it('creates with --json, scopes and an expiry', async () => {
    const created = await run(['token', 'create', '-n', 'ci', '-d', 'pipeline', '-s', 'api', '-s', 'metrics', '--expires-in', '30d', '--json'])
    expect(created.code).toBe(0)
    const body = parseJson(created.stdout)
    expect(body).toMatchObject({name: 'ci', description: 'pipeline', scopes: ['api', 'metrics'], status: 'active', token: expect.any(String)})
    const lifetime = Date.parse(body.expiresAt) - Date.parse(body.createdAt)
    expect(Math.abs(lifetime - 30 * 86_400_000)).toBeLessThan(1000)
    const claims = parseJson(Buffer.from(body.token.split('.')[1], 'base64url').toString())
    expect(claims.exp - claims.iat).toBe(30 * 86_400)
    expect(claims.scope).toBe('api metrics')
  })

  it('prints the public JWKS', async () => {
    const jwks = await run(['issuer', 'jwks'])
    expect(jwks.code).toBe(0)
    const {keys} = parseJson(jwks.stdout)
    expect(keys).toEqual([{kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String), alg: 'EdDSA', use: 'sig'}])
    expect(keys[0]).not.toHaveProperty('d')
  })
})

// The rest of the suite runs the commands in-process; this is the same path through bin/run.js.
describe('the journey as real processes of bin/run.js', () => {
  it('creates, lists, verifies from stdin, deletes, and exits with the documented codes', async () => {
    const dir = tempHome()
    const run = (args: string[], input?: string) => runCliProcess(args, {home: dir.home, input})
    try {
      const created = await run(['token', 'create', '--name', 'laptop'])
      expect(created.code).toBe(0)
      const token = tokenFrom(created.stdout)
      const {jti} = parseJson<{jti: string}>(Buffer.from(token.split('.')[1]!, 'base64url').toString())

      const listed = await run(['token', 'list'])
      expect(listed.code).toBe(0)
      expect(listed.stdout).toContain(`│ ${jti} │ laptop`)
      expect(listed.stdout).not.toContain(token.split('.')[2])

      expect(await run(['token', 'verify', '-'], `${token}\n`)).toMatchObject({code: 0, stdout: expect.stringContaining(`Valid token ${jti}`)})
      expect(await run(['token', 'delete', jti])).toMatchObject({code: 0, stdout: `Deleted token ${jti}\n`})
      expect(await run(['token', 'verify', '-'], token)).toMatchObject({code: 1, stderr: 'Invalid token: revoked\n'})
    } finally {
      dir.cleanup()
    }
  })
})

describe('an empty store and issuer init', () => {
  it('says how to create a token when there is none', async () => {
    const dir = tempHome()
    try {
      const listed = await runCli(['token', 'list'], {home: dir.home})
      expect(listed.code).toBe(0)
      expect(listed.stdout).toContain('cape token create --name')
      expect(parseJson((await runCli(['token', 'list', '--json'], {home: dir.home})).stdout)).toEqual([])
    } finally {
      dir.cleanup()
    }
  })

  it('sets the issuer up once, with the chosen algorithm, and refuses a second init', async () => {
    const dir = tempHome()
    try {
      const init = await runCli(['issuer', 'init', '--issuer', 'https://tokens.example.com', '--audience', 'example-api', '--alg', 'ES256', '--subject', 'svc', '--json'], {home: dir.home})
      expect(init.code).toBe(0)
      expect(parseJson(init.stdout)).toEqual({
        issuer: 'https://tokens.example.com',
        audience: ['example-api'],
        algorithm: 'ES256',
        defaultSubject: 'svc',
        maxLifetimeSeconds: null,
        keyStorage: 'file',
      })

      const token = tokenFrom((await runCli(['token', 'create', '-n', 'x'], {home: dir.home})).stdout)
      const header = parseJson(Buffer.from(token.split('.')[0]!, 'base64url').toString())
      expect(header.alg).toBe('ES256')
      const verified = await runCli(['token', 'verify', token, '--json'], {home: dir.home})
      expect(parseJson(verified.stdout)).toMatchObject({valid: true, subject: 'svc', claims: {iss: 'https://tokens.example.com', aud: ['example-api']}})

      const again = await runCli(['issuer', 'init'], {home: dir.home})
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(/^Error: the issuer is already set up \(iss https:\/\/tokens\.example\.com, alg ES256\)/)
    } finally {
      dir.cleanup()
    }
  })
})
