import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {parseJson, runCli, tempHome} from '../helpers/cli.js'
import {filesContaining} from '../helpers/files.js'
import {keychainTestsEnabled, type PrivateKeychain, startPrivateKeychain, startSilentBus} from '../helpers/keychain.js'
import {createToken, JWT_PATTERN, verifyToken} from '../helpers/tokens.js'

describe.skipIf(!keychainTestsEnabled)('the OS keychain (a private D-Bus session with gnome-keyring)', () => {
  let keychain: PrivateKeychain
  let keychainDir: ReturnType<typeof tempHome>
  let dir: ReturnType<typeof tempHome>
  const run = (args: string[], input?: string, env: Record<string, string | undefined> = {}) =>
    runCli(args, {home: dir.home, input, env: {...keychain.env, ...env}})

  beforeAll(async () => {
    keychainDir = tempHome()
    keychain = await startPrivateKeychain(keychainDir.root)
  })
  afterAll(async () => {
    await keychain?.stop()
    keychainDir?.cleanup()
  })
  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => {
    for (const profile of ['default', 'work']) keychain.clear(profile)
    dir.cleanup()
  })

  it('login keeps the token in the keychain and writes no plaintext copy anywhere', async () => {
    const {token, id} = await createToken('laptop', {home: dir.home})
    const login = await run(['login', '--with-token'], token)
    expect(login.code).toBe(0)
    expect(login.stdout).toMatch(/^Logged in as \S+ with token "laptop" \(\w{22}\), profile "default"\.$/m)
    expect(login.stdout).toContain('Stored in the OS keychain (service "cape", account "default").')
    expect(login.stdout + login.stderr).not.toContain(token)

    expect(keychain.lookup('default')).toBe(token)
    const signature = token.split('.')[2]!
    for (const root of [dir.root, keychainDir.root]) {
      expect(filesContaining(root, signature)).toEqual([])
      expect(filesContaining(root, token.split('.')[1]!)).toEqual([])
    }

    const whoami = await run(['whoami', '--json'])
    expect(whoami.code).toBe(0)
    expect(parseJson(whoami.stdout)).toMatchObject({id, name: 'laptop', source: 'keychain', profile: 'default'})
    expect((await run(['whoami'])).stdout).toMatch(/^\S+\ntoken: {2}\w{22} \("laptop"\)\nsource: keychain \(profile default\)\n$/)
  })

  it('token create --save stores the new token in the keychain and never prints it', async () => {
    const created = await run(['token', 'create', '--name', 'laptop', '--save'])
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^Success! Created token "laptop" \(\w{22}\) and stored it in the OS keychain/)
    expect(created.stdout + created.stderr).not.toMatch(JWT_PATTERN)

    const stored = keychain.lookup('default')
    expect(stored).toMatch(JWT_PATTERN)
    expect((await verifyToken(stored!, {home: dir.home})).code).toBe(0)
    expect((await run(['auth', 'token'])).stdout).toBe(`${stored}\n`)

    const json = parseJson((await run(['token', 'create', '--name', 'ci', '--save', '--profile', 'work', '--json'])).stdout)
    expect(json).toMatchObject({name: 'ci', saved: {profile: 'work', storage: 'keychain'}})
    expect(json).not.toHaveProperty('token')
  })

  it('refuses a token the issuer refuses, and stores nothing', async () => {
    await createToken('exists', {home: dir.home})
    const login = await run(['login', '--with-token', '--json'], 'eyJhbGciOiJub25lIn0.e30.')
    expect(login.code).toBe(1)
    expect(parseJson(login.stdout)).toEqual({
      error: {code: 'invalid_token', reason: 'unsupported_alg', message: 'the issuer refuses that token (unsupported_alg): nothing was stored'},
    })
    expect(keychain.lookup('default')).toBeNull()
    expect(existsSync(join(dir.home, 'config.json'))).toBe(false)
  })

  it('logout forgets the token but leaves it valid; logout --revoke also revokes it', async () => {
    const kept = await createToken('kept', {home: dir.home})
    expect((await run(['login', '--with-token'], kept.token)).code).toBe(0)
    const logout = await run(['logout'])
    expect(logout.code).toBe(0)
    expect(logout.stdout).toContain(`Token "kept" (${kept.id}) still works; "cape token delete ${kept.id}" revokes it.`)
    expect(keychain.lookup('default')).toBeNull()
    expect((await verifyToken(kept.token, {home: dir.home})).code).toBe(0)
    expect((await run(['whoami'])).code).toBe(4)

    const revoked = await createToken('revoked', {home: dir.home})
    expect((await run(['login', '--with-token'], revoked.token)).code).toBe(0)
    const revoke = await run(['logout', '--revoke'])
    expect(revoke.code).toBe(0)
    expect(revoke.stdout).toContain(`Token "revoked" (${revoked.id}) is revoked.`)
    expect(keychain.lookup('default')).toBeNull()
    expect(await verifyToken(revoked.token, {home: dir.home})).toEqual({code: 1, reason: 'revoked'})

    const again = await run(['logout'])
    expect(again.code).toBe(4)
    expect(again.stderr).toBe('Error: no token is stored: nothing to log out of\n')
  })

  it('keeps one token per profile and switches between them', async () => {
    expect((await run(['token', 'create', '-n', 'personal', '--save'])).code).toBe(0)
    expect((await run(['token', 'create', '-n', 'team', '--save', '--profile', 'work'])).code).toBe(0)
    // the last one saved is the active one
    expect(parseJson((await run(['whoami', '--json'])).stdout)).toMatchObject({name: 'team', profile: 'work'})
    expect(parseJson((await run(['whoami', '--json', '--profile', 'default'])).stdout)).toMatchObject({name: 'personal'})
    expect(parseJson((await run(['whoami', '--json'], undefined, {CAPE_PROFILE: 'default'})).stdout)).toMatchObject({name: 'personal'})

    const status = await run(['auth', 'status'])
    expect(status.stdout).toContain('Profiles: default, work (active)')
    expect((await run(['auth', 'switch', 'default'])).stdout).toMatch(/^Switched to profile "default": token "personal"/)
    expect(parseJson((await run(['whoami', '--json'])).stdout)).toMatchObject({name: 'personal'})

    const unknown = await run(['auth', 'switch', 'nope'])
    expect(unknown.code).toBe(4)
    expect(unknown.stderr).toBe('Error: no profile "nope": logged-in profiles: default, work\n')
    expect((await run(['auth', 'switch', '../etc'])).code).toBe(2)

    const logout = await run(['logout'])
    expect(logout.stdout).toContain('Profile "work" is now active.')
    expect(parseJson((await run(['whoami', '--json'])).stdout)).toMatchObject({name: 'team'})
  })

  it('auth status shows the source, the token masked, and who it is', async () => {
    const {token, id} = await createToken('laptop', {home: dir.home}, ['--expires-in', '3d'])
    expect((await run(['login', '--with-token'], token)).code).toBe(0)
    const status = await run(['auth', 'status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('Source:   the OS keychain (service "cape", account "default")')
    expect(status.stdout).toContain(`Token:    ${token.slice(0, 8)}…${token.slice(-4)}`)
    expect(status.stdout).toContain(`ID:       ${id}`)
    expect(status.stdout).toMatch(/^Expires: {2}\w{3} \d\d \d{4} \d\d:\d\d \(in 3 days\)$/m)
    expect(status.stdout).not.toContain(token)
    expect(status.stderr).toMatch(/^Warning: your token "laptop" expires in 3 days/)
  })

  // One home across these three, each of which waits out the 3 s limit once.
  describe('a keychain that never answers', () => {
    const own = tempHome()
    const runHere = (args: string[], input?: string, env: Record<string, string | undefined> = {}) =>
      runCli(args, {home: own.home, input, env: {...keychain.env, ...env}})
    let token = ''
    let silent: Awaited<ReturnType<typeof startSilentBus>>
    let env: Record<string, string>

    beforeAll(async () => {
      token = (await createToken('laptop', {home: own.home})).token
      silent = await startSilentBus(join(own.root, 'silent-bus'))
      env = {DBUS_SESSION_BUS_ADDRESS: silent.address}
    })

    afterAll(async () => {
      await silent?.close()
      own.cleanup()
    })

    it('fails within seconds, and nothing is stored', async () => {
      const started = Date.now()
      const login = await runHere(['login', '--with-token'], token, env)
      const elapsed = Date.now() - started
      expect(login.code).toBe(3)
      expect(login.stderr).toMatch(/^Error: the OS keychain did not answer within 3 s: .*Nothing was stored; --insecure-storage keeps the token in a plain-text file \(0600\) instead\n$/)
      expect(elapsed).toBeLessThan(8000)
      expect(existsSync(join(own.home, 'config.json'))).toBe(false)
    })

    it('leaves a caller with nothing saved not logged in', async () => {
      const whoami = await runHere(['whoami'], undefined, env)
      expect(whoami.code).toBe(4)
      expect(whoami.stderr).toMatch(/^Error: not logged in \(the OS keychain did not answer within 3 s/)
    })

    it('is an error, not "not logged in", when the token was saved there', async () => {
      expect((await runHere(['login', '--with-token'], token)).code).toBe(0)
      const stuck = await runHere(['whoami'], undefined, env)
      expect(stuck.code).toBe(3)
      expect(stuck.stderr).toMatch(/^Error: the OS keychain did not answer within 3 s/)
    })
  })

  it('keeps the signing keys in the keychain with --key-storage keychain, never in a file', async () => {
    const init = await run(['issuer', 'init', '--key-storage', 'keychain', '--json'])
    expect(init.code).toBe(0)
    expect(parseJson(init.stdout)).toMatchObject({keyStorage: 'keychain'})
    const {token} = await createToken('signed from the keychain', {home: dir.home, env: keychain.env})
    expect(await verifyToken(token, {home: dir.home})).toEqual({code: 0, reason: undefined})
    expect(existsSync(join(dir.home, 'keys'))).toBe(false)

    const [first] = parseJson<Array<{kid: string}>>((await run(['issuer', 'keys', 'list', '--json'])).stdout)
    expect(parseJson(keychain.lookup(first!.kid, 'cape-signing-keys')!)).toMatchObject({kid: first!.kid, d: expect.any(String)})

    expect((await run(['issuer', 'keys', 'rotate'])).code).toBe(0)
    expect((await run(['issuer', 'keys', 'retire', '--', first!.kid])).code).toBe(0)
    expect(keychain.lookup(first!.kid, 'cape-signing-keys')).toBeNull()
    expect((await run(['token', 'create', '-n', 'after rotation'])).code).toBe(0)
    expect(existsSync(join(dir.home, 'keys'))).toBe(false)
  })
})
