import {execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {SCHEMA_VERSION} from '../../src/store/migrations.js'
import {parseJson, runCli, runCliProcess, tempHome, tokenFrom, type CliResult} from '../helpers/cli.js'

/** One clear line on stderr: no stack trace, no oclif decoration. */
function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code).toBe(code)
  expect(result.stderr).toMatch(/^[^\n]+\n$/)
  expect(result.stderr.trimEnd()).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/)
}

describe('bad input', () => {
  let dir: ReturnType<typeof tempHome>
  const run = (args: string[], input?: string) => runCli(args, {home: dir.home, input})

  beforeEach(() => {
    dir = tempHome()
  })

  afterEach(() => dir.cleanup())

  it('reports a missing --name as a usage error', async () => {
    expectOneLineError(await run(['token', 'create']), 2, /^Error: Missing required flag name/)
  })

  it('rejects a bad duration while parsing, before anything is created', async () => {
    for (const duration of ['5q', '0d', '-1d', '1.5h', '', '101y']) {
      const result = await run(['token', 'create', '-n', 'x', '--expires-in', duration])
      expectOneLineError(result, 2, /^Error: --expires-in: invalid duration/)
    }

    const json = await run(['token', 'create', '-n', 'x', '--expires-in', 'soon', '--json'])
    expect(json.code).toBe(2)
    expect(parseJson(json.stdout).error.code).toBe('invalid_duration')
    expect(parseJson((await run(['token', 'list', '--json'])).stdout)).toEqual([])
  })

  it('rejects bad scopes, names and descriptions', async () => {
    expectOneLineError(await run(['token', 'create', '-n', 'x', '--scope', 'a b']), 2, /^Error: --scope: invalid scope "a b"/)
    expectOneLineError(await run(['token', 'create', '-n', '  ']), 2, /^Error: name must not be empty$/)
    expectOneLineError(await run(['token', 'create', '-n', 'x'.repeat(101)]), 2, /^Error: name is too long/)
    expectOneLineError(await run(['token', 'create', '-n', 'x', '-d', 'evil\u001b[2Jtext']), 2, /control characters/)
  })

  it('calls garbage, oversized and empty tokens what they are', async () => {
    expectOneLineError(await run(['token', 'verify', 'garbage']), 1, /^Invalid token: malformed$/)
    expectOneLineError(await run(['token', 'verify', 'a.b.c']), 1, /^Invalid token: malformed$/)
    expectOneLineError(await run(['token', 'verify', 'x'.repeat(100_000)]), 1, /^Invalid token: malformed$/)
    expectOneLineError(await run(['token', 'verify', '-'], 'x'.repeat(1_048_576)), 2, /^Error: the token on stdin is larger than 64 KiB$/)
    expectOneLineError(await run(['token', 'verify', '-'], ''), 2, /^Error: no token on stdin$/)
    expectOneLineError(await run(['token', 'verify']), 2, /^Error: no token given/)
  })

  it('says so when the database is corrupt, and leaves the file alone', async () => {
    mkdirSync(dir.home, {recursive: true})
    const garbage = 'this is not a database'.repeat(100)
    // 0600, as cape makes it: one open to others is refused before it is read (test/server/hostile-input.test.ts).
    writeFileSync(join(dir.home, 'cape.db'), garbage, {mode: 0o600})
    expectOneLineError(await run(['token', 'list']), 3, /^Error: the database .*cape\.db is corrupt or not a cape database$/)
    const json = await run(['token', 'list', '--json'])
    expect(parseJson(json.stdout).error.code).toBe('store_corrupt')
    expect(json.code).toBe(3)
  })

  it('refuses a database written by a newer cape', async () => {
    expect((await run(['token', 'create', '-n', 'kept'])).code).toBe(0)
    const db = new Database(join(dir.home, 'cape.db'))
    db.pragma('user_version = 99')
    db.close()
    expectOneLineError(await run(['token', 'list']), 3, new RegExp(`schema version 99, newer than this cape knows \\(${SCHEMA_VERSION}\\): upgrade cape$`))
  })

  it('says so when CAPE_HOME cannot be used', async () => {
    mkdirSync(dir.root, {recursive: true})
    writeFileSync(join(dir.root, 'file'), '')
    const result = await runCli(['token', 'list'], {home: join(dir.root, 'file', 'home')})
    expectOneLineError(result, 3, /^Error: cannot use .*file\/home as CAPE_HOME: a parent is not a directory$/)
  })

  it('says so when the signing key is missing, and stores nothing', async () => {
    const first = await run(['token', 'create', '-n', 'first'])
    expect(first.code).toBe(0)
    execFileSync('sh', ['-c', `rm ${join(dir.home, 'keys')}/*.private.jwk`])
    expectOneLineError(await run(['token', 'create', '-n', 'second']), 3, /^Error: cannot read the signing key .*: no such file or directory$/)
    const names = parseJson<Array<{name: string}>>((await run(['token', 'list', '--json'])).stdout).map((token) => token.name)
    expect(names).toEqual(['first'])
    // what was issued before still verifies: verification needs only the public key
    expect((await run(['token', 'verify', tokenFrom(first.stdout)])).code).toBe(0)
  })

  it('reports unknown commands and flags without a stack trace', async () => {
    const unknownFlag = await run(['token', 'list', '--bogus'])
    expect(unknownFlag.code).toBe(2)
    expect(unknownFlag.stderr).toMatch(/^Error: Nonexistent flag: --bogus/)
    expect(unknownFlag.stderr).not.toMatch(/\bat .+:\d+:\d+/)
  })
})

describe('a database locked by another process', () => {
  it('waits for a short lock, and reports a long one in one line without losing data', async () => {
    const dir = tempHome()
    try {
      expect((await runCli(['token', 'create', '-n', 'before'], {home: dir.home})).code).toBe(0)
      const holder = new Database(join(dir.home, 'cape.db'))
      holder.exec('BEGIN EXCLUSIVE')
      // Another process: one in this process would block the event loop that must COMMIT.
      const waiting = runCliProcess(['token', 'create', '-n', 'waited'], {home: dir.home})
      await new Promise((resolve) => setTimeout(resolve, 1000))
      holder.exec('COMMIT')
      expect((await waiting).code).toBe(0)

      holder.exec('BEGIN EXCLUSIVE')
      try {
        const refused = await runCli(['token', 'create', '-n', 'refused'], {home: dir.home})
        expectOneLineError(refused, 3, /^Error: the database .*cape\.db is locked by another process; try again$/)
      } finally {
        holder.exec('COMMIT')
        holder.close()
      }

      const names = parseJson<Array<{name: string}>>((await runCli(['token', 'list', '--json'], {home: dir.home})).stdout)
      expect(names.map((token) => token.name)).toEqual(['before', 'waited'])
    } finally {
      dir.cleanup()
    }
    // A real process and SQLite's 5 s busy timeout waited out once.
  }, 60_000)
})
