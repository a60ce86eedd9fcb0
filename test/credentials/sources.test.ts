import {spawn} from 'node:child_process'
import {chmodSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, cliEnv, parseJson, runCli, tempHome} from '../helpers/cli.js'
import {keychainTestsEnabled, type PrivateKeychain, startPrivateKeychain} from '../helpers/keychain.js'
import {createToken} from '../helpers/tokens.js'

/**
 * The documented order, case by case: --token > CAPE_TOKEN > ./.env > keychain > insecure file
 * > prompt > "not logged in". Each source holds a different token, and whoami names the winner.
 */
describe.skipIf(!keychainTestsEnabled)('where the caller’s token comes from', () => {
  let keychain: PrivateKeychain
  let keychainDir: ReturnType<typeof tempHome>
  let dir: ReturnType<typeof tempHome>
  const tokens: Record<string, string> = {}
  const whoami = (extra: string[] = [], env: Record<string, string | undefined> = {}, input?: string) =>
    runCli(['whoami', '--json', ...extra], {home: dir.home, input, env: {...keychain.env, ...env}})
  const winner = async (...args: Parameters<typeof whoami>) => {
    const result = await whoami(...args)
    expect(result.stderr).toBe('')
    const {name, source} = parseJson<{name: string; source: string}>(result.stdout)
    return `${name} from ${source}`
  }

  beforeAll(async () => {
    keychainDir = tempHome()
    dir = tempHome()
    keychain = await startPrivateKeychain(keychainDir.root)
    for (const name of ['flag', 'env', 'dotenv', 'keychain', 'file', 'prompt']) {
      tokens[name] = (await createToken(name, {home: dir.home})).token
    }

    const login = await runCli(['login', '--with-token'], {home: dir.home, input: tokens.keychain, env: keychain.env})
    expect(login.code).toBe(0)
    // A leftover plain-text copy for the same profile, as an older login might have left.
    mkdirSync(join(dir.home, 'credentials'), {mode: 0o700})
    writeFileSync(join(dir.home, 'credentials', 'default'), `${tokens.file}\n`, {mode: 0o600})
    writeFileSync(join(dir.root, '.env'), `# local settings\nOTHER=1\nexport CAPE_TOKEN="${tokens.dotenv}"\n`)
  })
  afterAll(async () => {
    await keychain?.stop()
    keychainDir?.cleanup()
    dir?.cleanup()
  })

  it('takes each source in turn as the ones before it go away', async () => {
    expect(await winner(['--token', tokens.flag!], {CAPE_TOKEN: tokens.env})).toBe('flag from flag')
    expect(await winner(['--token', '-'], {CAPE_TOKEN: tokens.env}, `${tokens.flag}\n`)).toBe('flag from stdin')
    expect(await winner([], {CAPE_TOKEN: tokens.env})).toBe('env from env')
    expect(await winner([], {CAPE_TOKEN: ''})).toBe('dotenv from dotenv')

    rmSync(join(dir.root, '.env'))
    expect(await winner()).toBe('keychain from keychain')

    keychain.clear('default')
    expect(await winner()).toBe('file from file')

    rmSync(join(dir.home, 'credentials', 'default'))
    const none = await runCli(['whoami'], {home: dir.home, env: keychain.env})
    expect(none.code).toBe(4)
    expect(none.stderr).toMatch(/^Error: not logged in \(.*no longer holds its token\): run "cape login", pass --token, or set CAPE_TOKEN\n$/)
  })

  it('asks at a masked prompt only when a person is there', async () => {
    // No TTY (and CI=true in CI): never a prompt, straight to "not logged in".
    expect((await runCli(['whoami'], {home: dir.home, env: {...keychain.env, CI: ''}})).code).toBe(4)

    const onTty = await runOnTty(['whoami'], dir.home, {...keychain.env, CI: ''}, tokens.prompt!)
    expect(onTty.output).toMatch(/Paste your cape token: \*{50,}/)
    expect(onTty.output).not.toContain(tokens.prompt)
    expect(onTty.output).toMatch(/source: prompt/)
    expect(onTty.code).toBe(0)
  })

  it('asks at no prompt under --no-input or --json, even on a terminal', async () => {
    for (const refusal of [['--no-input'], ['--json']]) {
      const result = await runOnTty(['whoami', ...refusal], dir.home, {...keychain.env, CI: ''}, tokens.prompt!)
      expect(result.code).toBe(4)
      expect(result.output).not.toContain('Paste your cape token')
    }
  })

  it('asks at no prompt in CI, even on a terminal', async () => {
    const inCi = await runOnTty(['whoami'], dir.home, {...keychain.env, CI: 'true'}, tokens.prompt!)
    expect(inCi.code).toBe(4)
  })

  it('login asks at the same masked prompt; Ctrl-C there stores nothing', async () => {
    const env = {...keychain.env, CI: '', CAPE_PROFILE: 'typed'}
    const cancelled = await runOnTty(['login'], dir.home, env, '\u0003')
    expect(cancelled.code).toBe(130)
    expect(cancelled.output).toMatch(/Error: cancelled/)
    expect(keychain.lookup('typed')).toBeNull()

    const typed = await runOnTty(['login'], dir.home, env, tokens.prompt!)
    expect(typed.code).toBe(0)
    expect(typed.output).not.toContain(tokens.prompt)
    expect(keychain.lookup('typed')).toBe(tokens.prompt)
    // login made "typed" active; logging out hands back to "default" for the tests after this one
    expect((await runCli(['logout'], {home: dir.home, env})).stdout).toContain('Profile "default" is now active.')
    expect(keychain.lookup('typed')).toBeNull()
  })

  it('refuses an insecure file that others can read', async () => {
    const path = join(dir.home, 'credentials', 'default')
    writeFileSync(path, `${tokens.file}\n`, {mode: 0o644})
    chmodSync(path, 0o644)
    try {
      const result = await runCli(['whoami'], {home: dir.home, env: keychain.env})
      expect(result.code).toBe(3)
      expect(result.stderr).toMatch(/^Error: .*credentials\/default is readable by other users: run "chmod 600 /)
    } finally {
      rmSync(path)
    }
  })
})

/**
 * Runs cape on a pseudo-terminal (util-linux `script`) and types `answer` once the prompt is up,
 * as a person would: typed earlier, the terminal itself would echo it.
 */
function runOnTty(
  args: string[],
  home: string,
  env: Record<string, string | undefined>,
  answer: string,
): Promise<{code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, BIN, ...args].map((part) => `'${part}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], {env: cliEnv(home, env), stdio: ['pipe', 'pipe', 'pipe']})
    let output = ''
    let answered = false
    const onOutput = (chunk: string) => {
      output += chunk
      if (!answered && output.includes('Paste your cape token:')) {
        answered = true
        child.stdin.write(`${answer}\r`)
      }
    }

    child.stdout.setEncoding('utf8').on('data', onOutput)
    child.stderr.setEncoding('utf8').on('data', onOutput)
    child.on('error', reject)
    child.on('close', (code) => resolve({code, output}))
    // script(1) ends the session when its stdin closes; keep it open until cape exits.
    setTimeout(() => child.stdin.end(), 15_000).unref()
  })
}
