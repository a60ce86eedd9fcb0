import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {parseJson, runCli, tempHome} from '../helpers/cli.js'
import {createToken} from '../helpers/tokens.js'

describe('account-bound tokens on the command line', () => {
  let dir: ReturnType<typeof tempHome>
  const run = (args: string[], input?: string) => runCli(args, {home: dir.home, input})
  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => dir.cleanup())

  it('verifies for its own account, or when no account is asked, and refuses any other', async () => {
    const {token, id} = await createToken('acme-ci', {home: dir.home}, ['--account', 'acme'])
    expect((await run(['token', 'verify', '-', '--account', 'acme'], token)).code).toBe(0)
    expect((await run(['token', 'verify', '-'], token)).code).toBe(0)
    const other = await run(['token', 'verify', '-', '--account', 'globex', '--json'], token)
    expect(other.code).toBe(1)
    expect(parseJson(other.stdout)).toEqual({valid: false, reason: 'wrong_account'})

    const listed = parseJson<Array<{id: string; account: string | null}>>((await run(['token', 'list', '--json'])).stdout)
    expect(listed).toEqual([expect.objectContaining({id, account: 'acme'})])
  })
})
