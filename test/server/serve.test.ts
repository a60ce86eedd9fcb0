import {spawn} from 'node:child_process'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {BIN, cliEnv, tempHome} from '../helpers/cli.js'
import {createToken} from '../helpers/tokens.js'

describe('cape issuer serve', () => {
  let dir: ReturnType<typeof tempHome>
  beforeEach(() => {
    dir = tempHome()
  })
  afterEach(() => dir.cleanup())

  it('serves on an ephemeral port, keeps tokens out of its logs, and stops on SIGTERM', async () => {
    const {token} = await createToken('ops', {home: dir.home}, ['--scope', 'api'])
    const server = spawn(process.execPath, [BIN, 'issuer', 'serve', '--port', '0'], {env: cliEnv(dir.home), stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    const url = await new Promise<string>((resolve, reject) => {
      server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
        if (match) resolve(match[1]!)
      })
      server.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)))
    })
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve))

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
      server.kill('SIGTERM')
    }

    expect(await exited).toBe(0)
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
})
