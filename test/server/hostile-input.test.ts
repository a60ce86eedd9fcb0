import {chmodSync, statSync} from 'node:fs'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CompiledReferrerPattern, MAX_REFERRER_LENGTH} from '../../src/issuer/referrer-pattern.js'
import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp, DEFAULT_LIMITS} from '../../src/server/app.js'
import {parseJson, runCli} from '../helpers/cli.js'
import {decodeSegment, openTestIssuer, signWith, stolenSigningKey} from '../helpers/issuer.js'
import {startServe} from '../helpers/serve.js'

/**
 * Issue 11: input an attacker or a careless user sends is refused in one clear line (HTTP: a
 * 4xx with a reason) before it is used or stored, and nothing it does can freeze, fill or break
 * the issuer. Each test here failed on the code before the issue.
 */
describe('hostile input never hurts', () => {
  let issuer: LocalIssuer
  let home: string
  let cleanup: () => Promise<void>
  let app: FastifyInstance
  let url: string
  let admin: {token: string; id: string}

  const call = (path: string, init: {bearer?: string; method?: string; json?: unknown; form?: Record<string, string>; headers?: Record<string, string>} = {}) => {
    const headers: Record<string, string> = {...init.headers}
    if (init.bearer) headers.authorization = `Bearer ${init.bearer}`
    let body: string | undefined
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = typeof init.json === 'string' ? init.json : JSON.stringify(init.json)
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }

    return fetch(`${url}${path}`, {method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body})
  }

  beforeAll(async () => {
    ;({issuer, home, cleanup} = await openTestIssuer())
    const created = await issuer.createToken({name: 'admin', subject: 'alice', scopes: ['*']})
    admin = {token: created.token, id: created.id}
    const settings = (await issuer.settings())!
    app = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1'})
    url = await app.listen({host: '127.0.0.1', port: 0})
  })
  afterAll(async () => {
    await app?.close()
    await cleanup?.()
  })

  describe('referrer patterns', () => {
    it('match the worst pattern against a 2 KiB Referer in a few milliseconds', () => {
      const worst = new CompiledReferrerPattern(`https://a/${'a*'.repeat(240)}b`)
      const referer = `https://a/${'a'.repeat(MAX_REFERRER_LENGTH - 11)}`
      const started = performance.now()
      for (let round = 0; round < 10; round++) expect(worst.matches(referer)).toBe(false)
      // Ten rounds, so one slow scheduling slice does not decide it; a backtracking matcher takes seconds.
      expect((performance.now() - started) / 10).toBeLessThan(25)
      expect(new CompiledReferrerPattern('https://a*a*a*a*a*b').matches(`https://${'a'.repeat(200)}/`)).toBe(false)
    })

    it('keep a star in the host within the host', () => {
      const pattern = new CompiledReferrerPattern('https://*.example.com/*')
      expect(pattern.matches('https://app.example.com/x')).toBe(true)
      expect(pattern.matches('https://evil.com/.example.com/')).toBe(false)
      expect(pattern.matches('https://evil.com/?x=.example.com/')).toBe(false)
      expect(pattern.matches('https://evil.com@app.example.com/')).toBe(false)
      expect(pattern.matches('https://app.example.com:8443/')).toBe(false)
      expect(new CompiledReferrerPattern('https://app.example.com').matches('https://app.example.com/')).toBe(true)
    })

    it('must be URLs with a scheme and a host: a 400, and exit 2 at the command line', async () => {
      for (const pattern of ['not a url', '*', '*.example.com/*', 'https:///path', 'https://user@host/', '*://example.com/']) {
        const response = await call('/v1/tokens', {bearer: admin.token, json: {name: 'x', account: 'acme', restrictions: {referrers: [pattern]}}})
        expect({pattern, status: response.status}).toEqual({pattern, status: 400})
      }

      const cli = await runCli(['token', 'create', '-n', 'x', '--allow-referrer', 'not a url'], {home})
      expect(cli.code).toBe(2)
      expect(cli.stderr).toMatch(/^Error: referrer pattern "not a url" is not a URL pattern/)
    })

    it('freeze nothing: a request with the old worst case answers at once, and so does /healthz', async () => {
      const token = (await issuer.createToken({name: 'r', subject: 'alice', restrictions: {referrers: [`https://a/${'a*'.repeat(240)}b`]}})).token
      const started = performance.now()
      const refused = await call('/v1/whoami', {bearer: token, headers: {referer: `https://a/${'a'.repeat(2000)}`}})
      expect(refused.status).toBe(403)
      expect((await call('/healthz')).status).toBe(200)
      expect(performance.now() - started).toBeLessThan(2000)
    })
  })

  describe('numbers', () => {
    it('refuse lifetimes and grace periods past 100 years before anything is stored', async () => {
      const before = (await issuer.listTokens({includeRevoked: true})).length
      for (const expiresIn of [9_000_000_000_000, 1e308, 3_153_600_001, '101y', '999999999y']) {
        const response = await call('/v1/tokens', {bearer: admin.token, json: {name: 'x', account: 'acme', expiresIn}})
        expect({expiresIn, status: response.status}).toEqual({expiresIn, status: 400})
      }

      const huge = await call('/v1/tokens', {bearer: admin.token, json: '{"name":"x","account":"acme","expiresIn":1e400}'})
      expect(huge.status).toBe(400)
      expect((await issuer.listTokens({includeRevoked: true})).length).toBe(before)
      expect((await call('/v1/tokens', {bearer: admin.token})).status).toBe(200)

      const target = await issuer.createToken({name: 'target', subject: 'alice'})
      const rotated = await call(`/v1/tokens/${target.id}/rotate`, {bearer: admin.token, json: {grace: 9_000_000_000_000}})
      expect(rotated.status).toBe(400)
      expect(await issuer.getToken(target.id)).toMatchObject({status: 'active', rotatedTo: null})
      await expect(issuer.createToken({name: 'x', expiresInSeconds: 1e308})).rejects.toMatchObject({code: 'invalid_duration'})
      await expect(issuer.rotateToken(target.id, {graceSeconds: Number.MAX_VALUE})).rejects.toMatchObject({code: 'invalid_duration'})
    })

    it('refuse a token whose times are past any date as malformed, not with a 500', async () => {
      const {key, kid} = await stolenSigningKey(home)
      const claims = decodeSegment(admin.token, 1)
      for (const exp of [1e308, 9e15, -1e308]) {
        const forged = await signWith(key, {alg: 'EdDSA', kid, typ: 'JWT'}, {...claims, exp})
        const response = await call('/v1/whoami', {bearer: forged})
        expect({exp, status: response.status, reason: ((await response.json()) as {reason: string}).reason}).toEqual({exp, status: 401, reason: 'malformed'})
      }
    })

    it('still list a row whose times cannot be shown, as invalid, and let it be deleted', async () => {
      const broken = await issuer.createToken({name: 'broken', subject: 'alice'})
      const db = new Database(join(home, 'cape.db'))
      db.prepare('UPDATE tokens SET expires_at = ? WHERE jti = ?').run(9_000_000_000_000_000, broken.id)
      db.close()

      const listed = await runCli(['token', 'list', '--json'], {home})
      expect(listed.code).toBe(0)
      expect(parseJson<Array<{id: string; status: string}>>(listed.stdout).find((token) => token.id === broken.id)).toMatchObject({status: 'invalid'})
      const table = await runCli(['token', 'list'], {home})
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(new RegExp(`${broken.id} │ broken .*│ invalid`))
      expect((await call('/v1/tokens', {bearer: admin.token})).status).toBe(200)
      expect(await runCli(['token', 'delete', broken.id], {home})).toMatchObject({code: 0, stdout: `Deleted token ${broken.id}\n`})
    })
  })

  describe('fields taken from a request', () => {
    it('check the introspection ip and referrer before using or storing them', async () => {
      const target = await issuer.createToken({name: 'victim', subject: 'alice', restrictions: {addresses: ['10.0.0.0/8']}})
      const size = () => statSync(join(home, 'cape.db')).size + (statSync(join(home, 'cape.db-wal'), {throwIfNoEntry: false})?.size ?? 0)
      const before = size()
      for (let round = 0; round < 50; round++) {
        const response = await call('/v1/introspect', {bearer: admin.token, form: {token: target.token, ip: `${round}${'9'.repeat(60_000)}`}})
        expect(response.status).toBe(400)
      }

      for (const [field, value] of [
        ['ip', '\u001b]52;c;ZXZpbA==\u0007'],
        ['ip', '10.0.0.0/8'],
        ['ip', 'notanip'],
        ['referrer', 'x'.repeat(3000)],
        ['referrer', 'not a url'],
        ['referrer', `https://a/${'b'.repeat(MAX_REFERRER_LENGTH)}`],
      ] as const) {
        const response = await call('/v1/introspect', {bearer: admin.token, form: {token: target.token, [field]: value}})
        expect({field, status: response.status}).toEqual({field, status: 400})
        expect(((await response.json()) as {message: string}).message).not.toContain(value.slice(0, 20))
      }

      expect(size() - before).toBeLessThan(64 * 1024)
      expect((await issuer.tokenTrail(target.id)).map((entry) => entry.event)).toEqual(['created'])
      const fine = await call('/v1/introspect', {bearer: admin.token, form: {token: target.token, ip: '10.1.2.3', referrer: 'https://app.example.com/'}})
      expect(await fine.json()).toMatchObject({active: true})
    })

    it('take token verify --ip notanip as a usage error (exit 2), recording nothing', async () => {
      const token = (await issuer.createToken({name: 'v', subject: 'alice', restrictions: {addresses: ['10.0.0.0/8']}})).token
      for (const args of [['--ip', 'notanip'], ['--ip', '10.0.0.0/8'], ['--referrer', 'not a url']]) {
        const result = await runCli(['token', 'verify', '-', ...args], {home, input: token})
        expect({args, code: result.code}).toEqual({args, code: 2})
      }
    })
  })

  describe('the terminal', () => {
    it('gets control and bidi characters from outside escaped, and --json stays exact', async () => {
      const token = await issuer.createToken({name: 'plain', subject: 'alice', description: 'plain'})
      const name = 'evil\u001b]52;c;ZXZpbA==\u0007name'
      const description = 'abc\u202edcba\r\u001b[2K'
      const db = new Database(join(home, 'cape.db'))
      db.prepare('UPDATE tokens SET name = ?, description = ?, last_used_ip = ? WHERE jti = ?').run(name, description, '\u001b[31mred', token.id)
      db.prepare('INSERT INTO audit (jti, at, event, detail, count) VALUES (?, ?, ?, ?, 1)').run(token.id, Date.now(), 'refused', 'x\u001b[1Ay')
      db.close()

      for (const args of [['token', 'list'], ['token', 'show', token.id]]) {
        const result = await runCli(args, {home})
        expect(result.code).toBe(0)
        expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/)
        expect(result.stdout).toContain('evil\\x1b]52;c;ZXZpbA==\\x07name')
        expect(result.stdout).toContain('abc\\u202edcba\\x0d\\x1b[2K')
      }

      const json = await runCli(['token', 'show', token.id, '--json'], {home})
      expect(parseJson(json.stdout)).toMatchObject({name, description})

      const error = await runCli(['token', 'show', 'no\u001b[2Jsuch'], {home})
      expect(error.code).toBe(1)
      expect(error.stderr).toBe('Error: no token with id no\\x1b[2Jsuch\n')
    })

    it('never repeats an argument that looks like a token', async () => {
      const result = await runCli(['login', '--with-token', admin.token], {home})
      expect(result.code).toBe(2)
      expect(result.stderr).not.toContain(admin.token)
      expect(result.stderr).not.toContain(admin.token.split('.')[2]!)
      expect(result.stderr).toContain(`${admin.token.slice(0, 8)}…${admin.token.slice(-4)}`)
      const bundle = `cape1.${'A'.repeat(64)}`
      const other = await runCli(['whoami', bundle], {home})
      expect(other.stderr).not.toContain(bundle)

      // Glued to a dot or a prefix, it is still a token (found in review).
      const signature = admin.token.split('.')[2]!
      for (const args of [['token', 'show', `${admin.token}.`], ['token', 'show', `x.${admin.token}`], ['token', 'create', '-n', 'a', '--scope', `x.${admin.token}`]]) {
        const glued = await runCli(args, {home})
        expect({args: args[0], stderr: glued.stderr.includes(signature)}).toEqual({args: args[0], stderr: false})
      }
    })

    it('prints a credential whose unverified exp is past any date, without a crash', async () => {
      const header = admin.token.split('.')[0]
      const odd = `${header}.${Buffer.from(JSON.stringify({sub: 'a', jti: 'x', exp: 1e20})).toString('base64url')}.c2ln`
      const printed = await runCli(['auth', 'token'], {home, env: {CAPE_TOKEN: odd}})
      expect(printed).toMatchObject({code: 0, stdout: `${odd}\n`})
    })
  })

  describe('the database', () => {
    it('is refused when group or others may read or write it, in one line that names the fix', async () => {
      const path = join(home, 'cape.db')
      chmodSync(path, 0o666)
      try {
        const result = await runCli(['token', 'list'], {home})
        expect(result.code).toBe(3)
        expect(result.stderr).toMatch(/^Error: .*cape\.db can be read or written by other users \(mode 666\): run "chmod 600 .*cape\.db\*"[^\n]*\n$/)
      } finally {
        chmodSync(path, 0o600)
      }

      expect((await runCli(['token', 'list'], {home})).code).toBe(0)
    })
  })

  describe('the server', () => {
    const rawRequest = (port: number) => {
      const socket = connect(port, '127.0.0.1')
      const closed = new Promise<{at: number; data: string}>((resolve) => {
        let data = ''
        socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk))
        socket.on('close', () => resolve({at: performance.now(), data}))
        socket.on('error', () => {})
      })
      return {socket, closed}
    }

    it('answers a URL the router cannot read in its own words, without repeating a token', async () => {
      for (const path of [`/v1/tokens/${admin.token}`, `/v1/tokens/${admin.token}%`, `/%ZZ${admin.token}`]) {
        const response = await fetch(`${url}${path}`)
        const text = await response.text()
        expect({path: path.slice(0, 12), status: response.status >= 400 && response.status < 500}).toEqual({path: path.slice(0, 12), status: true})
        expect(text).not.toContain(admin.token.split('.')[1]!)
        expect(JSON.parse(text)).toHaveProperty('error')
      }
    })

    it('refuses timeouts Node cannot arm (they would become 1 ms), at the flag and in buildApp', async () => {
      const settings = (await issuer.settings())!
      const common = {issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1'}
      for (const limits of [{idleTimeoutMs: 30 * 86_400_000}, {keepAliveTimeoutMs: 0}, {requestTimeoutMs: 1.5}, {maxConnections: -1}]) {
        await expect(buildApp({...common, limits})).rejects.toMatchObject({code: 'invalid_argument'})
      }

      const flag = await runCli(['issuer', 'serve', '--port', '0', '--idle-timeout', '30d'], {home})
      expect(flag.code).toBe(2)
      expect(flag.stderr).toMatch(/^Error: --idle-timeout: invalid timeout "30d": at most 1d/)
    })

    it('has documented default timeouts and a connection limit', () => {
      expect(DEFAULT_LIMITS).toEqual({requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, idleTimeoutMs: 60_000, maxConnections: 1024})
      expect(app.server.requestTimeout).toBe(30_000)
      expect(app.server.headersTimeout).toBe(10_000)
      expect(app.server.keepAliveTimeout).toBe(5000)
      expect(app.server.maxConnections).toBe(1024)
    })

    it('closes a slow body within its request timeout, and keeps answering meanwhile', async () => {
      const settings = (await issuer.settings())!
      const strict = await buildApp({
        issuer,
        issuerIdentifier: settings.issuer,
        audience: settings.audience,
        publicUrl: 'http://127.0.0.1',
        limits: {requestTimeoutMs: 2000, headersTimeoutMs: 1000},
      })
      const address = await strict.listen({host: '127.0.0.1', port: 0})
      const port = Number(new URL(address).port)
      const sockets: Socket[] = []
      try {
        const started = performance.now()
        const slow = rawRequest(port)
        sockets.push(slow.socket)
        slow.socket.write(`POST /v1/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n`)
        const drip = setInterval(() => slow.socket.write('a'), 200)
        expect((await fetch(`${address}/healthz`)).status).toBe(200)
        const {at, data} = await slow.closed
        clearInterval(drip)
        expect(at - started).toBeLessThan(6000)
        expect(data === '' || data.startsWith('HTTP/1.1 408')).toBe(true)

      } finally {
        for (const socket of sockets) socket.destroy()
        await strict.close()
      }
    })

    it('refuses connections past its limit at once', async () => {
      const settings = (await issuer.settings())!
      const limited = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1', limits: {maxConnections: 2}})
      const address = await limited.listen({host: '127.0.0.1', port: 0})
      const port = Number(new URL(address).port)
      const idle = [rawRequest(port), rawRequest(port)]
      try {
        const connections = () => new Promise<number>((resolve) => limited.server.getConnections((_error, count) => resolve(count)))
        while ((await connections()) < 2) await new Promise((resolve) => setTimeout(resolve, 20))
        const refused = rawRequest(port)
        idle.push(refused)
        refused.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        expect((await refused.closed).data).toBe('')
      } finally {
        for (const {socket} of idle) socket.destroy()
        await limited.close()
      }
    })
  })
})

describe('logs never hold a token', () => {
  it('in any line: a token in the path is hidden, and so is it in a 404 answer', async () => {
    const {issuer, home, cleanup} = await openTestIssuer()
    const token = (await issuer.createToken({name: 'leak', subject: 'alice'})).token
    await issuer.close()
    const server = await startServe(home, ['--request-timeout', '5s'])
    try {
      const response = await fetch(`${server.url}/${token}`)
      expect(response.status).toBe(404)
      const body = await response.text()
      expect(body).not.toContain(token.split('.')[1]!)
      expect(body).toContain('[token]')
      await fetch(`${server.url}/v1/tokens/${'A'.repeat(22)}?token=${token}`, {headers: {authorization: `Bearer ${token}`}})
      await fetch(`${server.url}/v1/tokens/${token}`, {headers: {authorization: `Bearer ${token}`}})
      await fetch(`${server.url}/v1/whoami?token=${token}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    } finally {
      await server.stop()
      await cleanup()
    }

    const {stdout, stderr} = server.output()
    expect(stdout).toContain('"url":"/[token]"')
    expect(stdout).toContain('"url":"/v1/tokens/:id"')
    for (const part of token.split('.')) {
      expect(stdout).not.toContain(part.slice(0, 40))
      expect(stderr).not.toContain(part.slice(0, 40))
    }
  })
})
