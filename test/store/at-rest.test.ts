import {chmodSync, mkdirSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {tempHome} from '../helpers/cli.js'

describe('what is on disk', () => {
  const dir = tempHome()
  const tokens: string[] = []

  beforeAll(async () => {
    const issuer = await LocalIssuer.open({home: dir.home})
    for (let index = 0; index < 50; index++) {
      const created = await issuer.createToken({name: `t${index}`, scopes: ['api', 'tokens']})
      tokens.push(created.token)
      await issuer.verifyToken(created.token)
    }

    await issuer.revokeToken((await issuer.listTokens())[0]!.id)
    // Closed without a checkpoint on purpose: the WAL still holds recent pages, and is scanned too.
    await issuer.close()
  })

  afterAll(() => dir.cleanup())

  it('holds no token, signature or payload in the database or its WAL', () => {
    const files = readdirSync(dir.home).filter((name) => name.startsWith('cape.db'))
    expect(files).toContain('cape.db')
    const bytes = Buffer.concat(files.map((name) => readFileSync(join(dir.home, name))))
    expect(bytes.length).toBeGreaterThan(0)
    for (const token of tokens) {
      const [header, payload, signature] = token.split('.') as [string, string, string]
      for (const secret of [payload, signature, Buffer.from(signature, 'base64url').toString('latin1')]) {
        expect(bytes.includes(Buffer.from(secret, 'latin1'))).toBe(false)
      }

      // The header is the same for every token and public anyway; the payload JSON is not stored either.
      expect(header.length).toBeGreaterThan(0)
      expect(bytes.includes(Buffer.from(Buffer.from(payload, 'base64url').toString('utf8')))).toBe(false)
    }
  })

  it('keeps the private key 0600 in a 0700 directory, and CAPE_HOME and the database private', () => {
    const mode = (path: string) => statSync(path).mode & 0o777
    const keysDir = join(dir.home, 'keys')
    expect(mode(dir.home)).toBe(0o700)
    expect(mode(keysDir)).toBe(0o700)
    const keyFiles = readdirSync(keysDir)
    expect(keyFiles).toEqual([expect.stringMatching(/^[\w-]{43}\.private\.jwk$/)])
    expect(mode(join(keysDir, keyFiles[0]!))).toBe(0o600)
    expect(mode(join(dir.home, 'cape.db'))).toBe(0o600)
  })

  it('keeps the private key out of the database', () => {
    const keyFile = readdirSync(join(dir.home, 'keys'))[0]!
    const privateJwk = JSON.parse(readFileSync(join(dir.home, 'keys', keyFile), 'utf8')) as {d: string}
    const bytes = readFileSync(join(dir.home, 'cape.db'))
    expect(bytes.includes(Buffer.from(privateJwk.d))).toBe(false)
  })
})

describe('directories that already exist', () => {
  it("tightens cape's own keys directory but leaves a CAPE_HOME the user chose as it was", async () => {
    const dir = tempHome()
    try {
      mkdirSync(join(dir.home, 'keys'), {recursive: true, mode: 0o755})
      chmodSync(dir.home, 0o755)
      chmodSync(join(dir.home, 'keys'), 0o755)
      const issuer = await LocalIssuer.open({home: dir.home})
      await issuer.createToken({name: 'x'})
      await issuer.close()
      expect(statSync(dir.home).mode & 0o777).toBe(0o755)
      expect(statSync(join(dir.home, 'keys')).mode & 0o777).toBe(0o700)
    } finally {
      dir.cleanup()
    }
  })
})
