import {performance} from 'node:perf_hooks'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseJson, runCli, runCliProcess, tempHome} from '../helpers/cli.js'
import {startServe, type ServeProcess} from '../helpers/serve.js'
import {createToken} from '../helpers/tokens.js'

// README's bound for a revocation made elsewhere to reach a running instance.
const BOUND_MS = 1000

describe('revocations made by another process, on SQLite', {timeout: 60_000}, () => {
  const dir = tempHome()
  let server: ServeProcess

  beforeAll(async () => {
    await createToken('first', {home: dir.home})
    server = await startServe(dir.home)
  })

  afterAll(async () => {
    await server?.stop()
    dir.cleanup()
  })

  const whoami = async (token: string) => (await fetch(`${server.url}/v1/whoami`, {headers: {authorization: `Bearer ${token}`}})).status

  it('are refused by a running server within the bound, however many times it is asked', async () => {
    const {token, id} = await createToken('laptop', {home: dir.home})
    for (let i = 0; i < 5; i++) expect(await whoami(token)).toBe(200)

    const deleted = await runCliProcess(['token', 'delete', id], {home: dir.home})
    expect(deleted.code).toBe(0)
    const started = performance.now()
    await expect.poll(() => whoami(token), {timeout: BOUND_MS, interval: 10}).toBe(401)
    const reachedInMs = performance.now() - started
    expect(reachedInMs).toBeLessThan(BOUND_MS)
    expect(await whoami(token)).toBe(401)
  })

  it('reach introspection too: a token rotated elsewhere without grace is inactive within the bound', async () => {
    const {token, id} = await createToken('ci', {home: dir.home}, ['--scope', 'api'])
    const resourceServer = await createToken('resource server', {home: dir.home}, ['--scope', 'introspect'])
    const introspect = async () =>
      ((await (
        await fetch(`${server.url}/v1/introspect`, {
          method: 'POST',
          headers: {authorization: `Bearer ${resourceServer.token}`, 'content-type': 'application/x-www-form-urlencoded'},
          body: new URLSearchParams({token}).toString(),
        })
      ).json()) as {active: boolean}).active
    expect(await introspect()).toBe(true)

    expect((await runCliProcess(['token', 'rotate', id], {home: dir.home})).code).toBe(0)
    await expect.poll(introspect, {timeout: BOUND_MS, interval: 10}).toBe(false)
  })

  it('issuer status lists the serving instance, caught up with the change log', async () => {
    await expect
      .poll(async () => parseJson((await runCli(['issuer', 'status', '--json'], {home: dir.home})).stdout), {timeout: 5000, interval: 100})
      .toMatchObject({store: {kind: 'sqlite', where: expect.stringContaining('cape.db')}, changes: expect.any(Number), instances: [{pid: expect.any(Number), behind: 0}]})
    const human = await runCli(['issuer', 'status'], {home: dir.home})
    expect(human.stdout).toMatch(/^Store: +SQLite .*cape\.db$/m)
    expect(human.stdout).toMatch(/│ INSTANCE │ HOST +│ PID +│ STARTED +│ LAST SEEN +│ BEHIND │/)
  })

  it('issuer status says so when no instance serves', async () => {
    const other = tempHome()
    try {
      const status = await runCli(['issuer', 'status'], {home: other.home})
      expect(status).toMatchObject({code: 0, stdout: expect.stringContaining('No instance is serving from this store.')})
    } finally {
      other.cleanup()
    }
  })
})
