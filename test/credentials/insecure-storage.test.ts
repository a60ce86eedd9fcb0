import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {parseJson, runCli, tempHome} from '../helpers/cli.js'
import {createToken} from '../helpers/tokens.js'

// runCli removes DBUS_SESSION_BUS_ADDRESS: these processes have no D-Bus session, so no keychain.
describe('without a keychain (no D-Bus session)', () => {
  let dir: ReturnType<typeof tempHome>
  const run = (args: string[], input?: string) => runCli(args, {home: dir.home, input})

  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => dir.cleanup())

  it('login refuses to keep the token in plain text unless told to', async () => {
    const {token} = await createToken('laptop', {home: dir.home})
    const refused = await run(['login', '--with-token'], token)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toBe(
      'Error: no OS keychain is reachable: no D-Bus session for the Secret Service (DBUS_SESSION_BUS_ADDRESS is not set). Nothing was stored; --insecure-storage keeps the token in a plain-text file (0600) instead\n',
    )
    expect(existsSync(join(dir.home, 'credentials'))).toBe(false)
    expect(existsSync(join(dir.home, 'config.json'))).toBe(false)

    const stored = await run(['login', '--with-token', '--insecure-storage'], token)
    expect(stored.code).toBe(0)
    expect(stored.stdout).toContain(`Stored in ${join(dir.home, 'credentials', 'default')} (plain text: stored insecurely).`)
    const file = join(dir.home, 'credentials', 'default')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir.home, 'credentials')).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir.home, 'config.json')).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).toBe(`${token}\n`)
    expect(readFileSync(join(dir.home, 'config.json'), 'utf8')).not.toContain(token.split('.')[2])

    const status = await run(['auth', 'status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('Warning:  stored insecurely, in plain text, not in the OS keychain')
    expect(parseJson((await run(['auth', 'status', '--json'])).stdout)).toMatchObject({source: 'file', insecure: true, valid: true})
    expect(parseJson((await run(['whoami', '--json'])).stdout)).toMatchObject({name: 'laptop', source: 'file'})

    expect((await run(['logout'])).code).toBe(0)
    expect(existsSync(file)).toBe(false)
    expect((await run(['whoami'])).code).toBe(4)
  })

  it('token create --save checks where it will keep the token before creating it', async () => {
    const refused = await run(['token', 'create', '-n', 'laptop', '--save'])
    expect(refused.code).toBe(3)
    expect(refused.stdout).toBe('')
    expect(parseJson((await run(['token', 'list', '--all', '--json'])).stdout)).toEqual([])

    const saved = await run(['token', 'create', '-n', 'laptop', '--save', '--insecure-storage'])
    expect(saved.code).toBe(0)
    expect(parseJson((await run(['whoami', '--json'])).stdout)).toMatchObject({name: 'laptop', source: 'file'})

    const misuse = await run(['token', 'create', '-n', 'x', '--insecure-storage'])
    expect(misuse.code).toBe(2)
    expect(misuse.stderr).toMatch(/^Error: .*--save/)
  })

  it('says how to log in when there is no credential at all', async () => {
    const result = await run(['whoami'])
    expect(result.code).toBe(4)
    expect(result.stderr).toMatch(/^Error: not logged in \(.*\): run "cape login", pass --token, or set CAPE_TOKEN\n$/)
    const json = await run(['whoami', '--json'])
    expect(json.code).toBe(4)
    expect(parseJson(json.stdout).error.code).toBe('not_logged_in')
    expect((await run(['auth', 'token'])).code).toBe(4)
    expect((await run(['logout'])).code).toBe(4)
    expect((await run(['login'])).stderr).toBe('Error: no terminal to ask in: pipe the token in with "cape login --with-token"\n')
  })

  it('refuses a malformed profile name and an empty --token', async () => {
    const badProfile = await run(['whoami', '--profile', '../../etc'])
    expect(badProfile.code).toBe(2)
    expect(badProfile.stderr).toMatch(/^Error: profile "..\/..\/etc" is not a valid name/)
    const empty = await run(['whoami', '--token', ' '])
    expect(empty.code).toBe(2)
  })

  it('reports a corrupt config.json in one line and keeps it', async () => {
    const {token} = await createToken('laptop', {home: dir.home})
    expect((await run(['login', '--with-token', '--insecure-storage'], token)).code).toBe(0)
    const config = join(dir.home, 'config.json')
    writeFileSync(config, '{"profiles": ')
    const result = await run(['whoami'])
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(`Error: ${config} is not valid JSON: repair it, or delete it and log in again\n`)
    expect(readFileSync(config, 'utf8')).toBe('{"profiles": ')
  })

  it('issuer init --key-storage keychain refuses in one line and sets nothing up', async () => {
    const refused = await run(['issuer', 'init', '--key-storage', 'keychain'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/^Error: no OS keychain is reachable: no D-Bus session for the Secret Service[^\n]*\n$/)
    expect(existsSync(join(dir.home, 'keys'))).toBe(false)
    // Nothing half-made stands in the way: the default issuer (keys in files) can still be set up.
    const init = await run(['issuer', 'init', '--json'])
    expect(init.code).toBe(0)
    expect(parseJson(init.stdout)).toMatchObject({keyStorage: 'file'})
  })
})
