import {chmodSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Interfaces} from '@oclif/core'
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {reportError} from '../../src/cli/errors.js'
import AuthToken from '../../src/commands/auth/token.js'
import Login from '../../src/commands/login.js'
import {CapeError} from '../../src/core/errors.js'
import {command, wording} from '../../src/core/wording.js'
import {InsecureFileStore} from '../../src/credentials/insecure-file.js'
import {ProfileConfig} from '../../src/credentials/profiles.js'
import {ROOT, tempHome} from '../helpers/cli.js'

/** package.json as an oclif host would have it: cape's commands under another binary. */
const HOST = (() => {
  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Interfaces.PJSON
  return {root: ROOT, pjson: {...pjson, oclif: {...pjson.oclif, bin: 'acme'}}}
})()

describe('a command named in a message', () => {
  it('is written under the binary of whoever prints it, and under cape in Error.message', () => {
    const error = new CapeError('not_logged_in', wording`run "${command('login', '--profile', 'a b')}" (${3} tries)`)
    expect(error.message).toBe(`run "cape login --profile 'a b'" (3 tries)`)
    expect(reportError(error, 'acme')).toEqual({code: 'not_logged_in', message: `run "acme login --profile 'a b'" (3 tries)`, exitCode: 4})

    const wrapped = new CapeError('invalid_bundle', wording`from --prepared-token: ${error.wording}`)
    expect(reportError(wrapped, 'acme').message).toBe(`from --prepared-token: run "acme login --profile 'a b'" (3 tries)`)

    // As oclif does to an error thrown while parsing a flag.
    error.message = `Parsing --profile \n\t${error.message}\nSee more help with --help`
    expect(reportError(error, 'acme').message).toBe(`--profile: run "acme login --profile 'a b'" (3 tries)`)
  })
})

describe('commands run under another binary', () => {
  let dir: ReturnType<typeof tempHome>
  let stderr: string
  const saved = {home: process.env.CAPE_HOME, token: process.env.CAPE_TOKEN, exitCode: process.exitCode}

  beforeEach(() => {
    dir = tempHome()
    process.env.CAPE_HOME = dir.home
    delete process.env.CAPE_TOKEN
    stderr = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk)
      return true
    })
  })

  afterEach(() => {
    vi.restoreAllMocks()
    process.env.CAPE_HOME = saved.home
    if (saved.token !== undefined) process.env.CAPE_TOKEN = saved.token
    process.exitCode = saved.exitCode
    dir.cleanup()
  })

  /** A profile saved to the insecure file, as `login --insecure-storage` leaves it; its file only when given a token. */
  async function savedToFile(token?: string): Promise<string> {
    const config = ProfileConfig.load(dir.home)
    config.setRecord('default', {storage: 'file', tokenId: 'x', name: 'laptop', subject: 'me', expiresAt: null, savedAt: new Date(0).toISOString()})
    config.setActive('default')
    config.save()
    const file = InsecureFileStore.in(dir.home)
    if (token !== undefined) await file.set('default', token)
    return file.pathOf('default')
  }

  it('words the hints of the library (credentials) with that binary', async () => {
    await savedToFile()
    await AuthToken.run([], HOST)
    expect(stderr).toBe('Error: not logged in: run "acme login", pass --token, or set CAPE_TOKEN\n')
    expect(process.exitCode).toBe(4)

    const path = await savedToFile('x.y.z')
    chmodSync(path, 0o644)
    stderr = ''
    await AuthToken.run([], HOST)
    expect(stderr).toBe(`Error: ${path} is readable by other users: run "chmod 600 ${path}" or "acme logout", then log in again\n`)
    expect(process.exitCode).toBe(3)
  })

  it('words a hint of the CLI layer with that binary', async () => {
    await Login.run(['--no-input'], HOST)
    expect(stderr).toBe('Error: no terminal to ask in: pipe the token in with "acme login --with-token"\n')
  })
})
