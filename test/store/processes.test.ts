import {spawn} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {ROOT, tempHome} from '../helpers/cli.js'

const FIXTURE = join(ROOT, 'test/fixtures/create-tokens.js')

function creator(home: string, count: number | 'forever', prefix: string) {
  const child = spawn(process.execPath, [FIXTURE, home, String(count), prefix], {stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('close', (code, signal) => resolve({code, signal})),
  )
  return {child, exited, tokens: () => stdout.split('\n').filter((line) => line.length > 0), stderr: () => stderr}
}

describe('several processes on one store', () => {
  let dir: ReturnType<typeof tempHome>

  beforeEach(() => {
    dir = tempHome()
  })

  afterEach(() => dir.cleanup())

  it('four processes creating 200 tokens each at once on a new CAPE_HOME: 800 rows, one issuer, no error', async () => {
    const creators = [0, 1, 2, 3].map((index) => creator(dir.home, 200, `p${index}`))
    const results = await Promise.all(creators.map((one) => one.exited))
    for (const [index, result] of results.entries()) {
      expect({result, stderr: creators[index]!.stderr()}).toEqual({result: {code: 0, signal: null}, stderr: ''})
    }

    const db = new Database(join(dir.home, 'cape.db'), {readonly: true})
    try {
      expect(db.prepare('SELECT count(*) AS n FROM tokens').get()).toEqual({n: 800})
      expect(db.prepare('SELECT count(*) AS n FROM signing_keys').get()).toEqual({n: 1})
    } finally {
      db.close()
    }

    // The processes that lost the race to set the issuer up removed the keys they had generated.
    expect(readdirSync(join(dir.home, 'keys'))).toHaveLength(1)

    const issuer = await LocalIssuer.open({home: dir.home})
    try {
      const tokens = creators.flatMap((one) => one.tokens())
      expect(tokens).toHaveLength(800)
      for (const token of tokens) expect(await issuer.verifyToken(token)).toMatchObject({valid: true})
    } finally {
      await issuer.close()
    }
  }, 120_000)

  it('SIGKILL while creating tokens leaves an intact database where every printed token verifies', async () => {
    const victim = creator(dir.home, 'forever', 'victim')
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (victim.tokens().length >= 100) {
          clearInterval(poll)
          resolve()
        }
      }, 5)
    })
    victim.child.kill('SIGKILL')
    expect(await victim.exited).toEqual({code: null, signal: 'SIGKILL'})

    const db = new Database(join(dir.home, 'cape.db'))
    try {
      expect(db.pragma('integrity_check', {simple: true})).toBe('ok')
    } finally {
      db.close()
    }

    const printed = victim.tokens()
    const issuer = await LocalIssuer.open({home: dir.home})
    try {
      for (const token of printed) expect(await issuer.verifyToken(token)).toMatchObject({valid: true})
      expect((await issuer.listTokens()).length).toBeGreaterThanOrEqual(printed.length)
    } finally {
      await issuer.close()
    }
  }, 60_000)
})
