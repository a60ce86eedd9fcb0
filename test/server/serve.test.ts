import {spawn} from 'node:child_process'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {BIN, cliEnv, parseJson, runCli, tempHome} from '../helpers/cli.js'
import {startServe, type ServeProcess} from '../helpers/serve.js'
import {createToken} from '../helpers/tokens.js'

// Real processes, up to three server starts in a test: a start-up budget, not a unit test's.
describe('cape issuer serve', {timeout: 60_000}, () => {
  let dir: ReturnType<typeof tempHome>
  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => dir.cleanup())

  it('serves on an ephemeral port, keeps tokens out of its logs, and stops on SIGTERM', async () => {
    const {token} = await createToken('ops', {home: dir.home}, ['--scope', 'api'])
    const server = await startServe(dir.home)
    const {url} = server
    let exitCode: number | null = null

    try {
      const whoami = await fetch(`${url}/v1/whoami?token=${token}`, {headers: {authorization: `Bearer ${token}`}})
      expect(whoami.status).toBe(200)
      const introspected = await fetch(`${url}/v1/introspect`, {
        method: 'POST',
        headers: {authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded'},
        body: new URLSearchParams({token}).toString(),
      })
      expect(await introspected.json()).toMatchObject({active: true})
      const metadata = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as {jwks_uri: string}
      expect(metadata.jwks_uri).toBe(`${url}/.well-known/jwks.json`)
    } finally {
      exitCode = await server.stop()
    }

    const {stdout, stderr} = server.output()
    expect(exitCode).toBe(0)
    expect(stderr).toContain('SIGTERM: finishing requests in flight, then stopping')
    const logs = stdout.trim().split('\n').map((line) => JSON.parse(line) as {req?: {url?: string}})
    expect(logs.some((line) => line.req?.url === '/v1/whoami')).toBe(true)
    expect(stdout).not.toContain(token.split('.')[2])
    expect(stdout).not.toContain(token.split('.')[1])
  })

  it('says so in one line when the port is taken', async () => {
    const {createServer} = await import('node:net')
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as {port: number}).port
    try {
      const result = await new Promise<{code: number | null; stderr: string}>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'issuer', 'serve', '--port', String(port)], {env: cliEnv(dir.home), stdio: ['ignore', 'ignore', 'pipe']})
        let stderr = ''
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
        child.on('close', (code) => resolve({code, stderr}))
      })
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(`Error: cannot listen on 127.0.0.1:${port}: the port is in use\n`)
    } finally {
      blocker.close()
    }
  })

  it('imports prepared tokens before it listens, once however often it starts, and refuses a bad one', async () => {
    const origin = tempHome()
    try {
      const {token, id} = await createToken('prepared', {home: origin.home}, ['--scope', 'api'])
      const exported = await runCli(['token', 'export', id], {home: origin.home})
      expect(exported.code).toBe(0)
      const bundle = exported.stdout.trim()

      for (const expected of [`imported prepared token "prepared" (${id})`, `prepared token "prepared" (${id}) was already imported`]) {
        const server = await startServe(dir.home, [], {CAPE_PREPARED_TOKEN: bundle})
        try {
          expect(server.output().stderr).toContain(expected)
          const whoami = await fetch(`${server.url}/v1/whoami`, {headers: {authorization: `Bearer ${token}`}})
          expect(await whoami.json()).toMatchObject({id, name: 'prepared'})
        } finally {
          expect(await server.stop()).toBe(0)
        }
      }

      const listed = parseJson<Array<{id: string}>>((await runCli(['token', 'list', '--all', '--json'], {home: dir.home})).stdout)
      expect(listed.map((token) => token.id)).toEqual([id])

      const refused = await startServe(dir.home, ['--prepared-token', 'cape1.bm90IGpzb24']).catch((error: {code: number; stderr: string}) => error)
      expect(refused).toMatchObject({code: 2, stderr: 'Error: --prepared-token: not a valid prepared token: it is not valid JSON inside\n'})
    } finally {
      origin.cleanup()
    }
  })

  it('token export and import work through the CLI, from stdin too, and say when nothing changed', async () => {
    const origin = tempHome()
    try {
      const {token, id} = await createToken('ci', {home: origin.home}, ['--account', 'acme'])
      const bundle = (await runCli(['token', 'export', id], {home: origin.home})).stdout

      const first = await runCli(['token', 'import', '-'], {home: dir.home, input: bundle})
      expect(first).toMatchObject({code: 0, stdout: `Imported token "ci" (${id})\n`})
      const second = await runCli(['token', 'import', '-', '--json'], {home: dir.home, input: bundle})
      expect(second.code).toBe(0)
      expect(parseJson(second.stdout)).toMatchObject({imported: false, token: {id, account: 'acme', status: 'active'}})
      expect((await runCli(['token', 'verify', '-', '--account', 'acme'], {home: dir.home, input: token})).code).toBe(0)

      const bad = await runCli(['token', 'import', 'nonsense'], {home: dir.home})
      expect(bad).toMatchObject({code: 2, stderr: 'Error: not a valid prepared token: it does not start with "cape1." (was it made by "cape token export"?)\n'})
      const unknown = await runCli(['token', 'export', 'nope'], {home: origin.home})
      expect(unknown).toMatchObject({code: 1, stderr: 'Error: no token with id nope\n'})
    } finally {
      origin.cleanup()
    }
  })

  it('two servers on one store share a token’s rate limit, and a restart keeps the count', async () => {
    const {token} = await createToken('limited', {home: dir.home}, ['--rate-limit', '3/1d'])
    const servers = [await startServe(dir.home), await startServe(dir.home)]
    const statusAt = async (server: ServeProcess) =>
      (await fetch(`${server.url}/v1/whoami`, {headers: {authorization: `Bearer ${token}`}})).status
    try {
      expect([await statusAt(servers[0]!), await statusAt(servers[1]!), await statusAt(servers[0]!)]).toEqual([200, 200, 200])
      expect(await statusAt(servers[1]!)).toBe(429)
      expect(await servers[0]!.stop()).toBe(0)
      servers[0] = await startServe(dir.home)
      expect(await statusAt(servers[0])).toBe(429)
    } finally {
      await Promise.all(servers.map((server) => server.stop()))
    }
  })
})
