import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import type {RestrictionsInput} from '../../src/issuer/types.js'
import {buildApp} from '../../src/server/app.js'
import {parseJson, runCli} from '../helpers/cli.js'
import {openTestIssuer} from '../helpers/issuer.js'

/**
 * Restrictions over real HTTP. The server trusts X-Forwarded-For from 127.0.0.1 only, so the
 * tests can speak for any client address; a second server on ::1 is reached over IPv6 itself.
 */
describe('token restrictions, enforced on every request', () => {
  let issuer: LocalIssuer
  let home: string
  let clock: {now: number}
  let cleanup: () => Promise<void>
  let trusting: FastifyInstance
  let direct: FastifyInstance
  let url: string
  let v6url: string

  const mint = async (restrictions: RestrictionsInput) => (await issuer.createToken({name: 'restricted', subject: 'alice', scopes: ['api'], restrictions})).token
  const whoami = (token: string, headers: Record<string, string> = {}, base = url) =>
    fetch(`${base}/v1/whoami`, {headers: {authorization: `Bearer ${token}`, ...headers}})
  const from = (ip: string, referer?: string) => ({'x-forwarded-for': ip, ...(referer === undefined ? {} : {referer})})

  beforeAll(async () => {
    ;({issuer, home, clock, cleanup} = await openTestIssuer())
    await issuer.init()
    const settings = (await issuer.settings())!
    const common = {issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1'}
    trusting = await buildApp({...common, trustProxy: ['127.0.0.1']})
    url = await trusting.listen({host: '127.0.0.1', port: 0})
    direct = await buildApp(common)
    v6url = await direct.listen({host: '::1', port: 0})
  })
  afterAll(async () => {
    await trusting?.close()
    await direct?.close()
    await cleanup?.()
  })

  it('addresses: exact IPv4 and IPv6, CIDR edges, IPv4-mapped IPv6', async () => {
    const token = await mint({addresses: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32', '::1']})
    const statusFrom = async (ip: string) => (await whoami(token, from(ip))).status
    expect(await statusFrom('203.0.113.7')).toBe(200)
    expect(await statusFrom('203.0.113.8')).toBe(403)
    expect(await statusFrom('10.0.0.0')).toBe(200)
    expect(await statusFrom('10.255.255.255')).toBe(200)
    expect(await statusFrom('11.0.0.0')).toBe(403)
    expect(await statusFrom('9.255.255.255')).toBe(403)
    expect(await statusFrom('2001:db8::1')).toBe(200)
    expect(await statusFrom('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(200)
    expect(await statusFrom('2001:db9::')).toBe(403)
    expect(await statusFrom('::ffff:10.1.2.3')).toBe(200)

    const refused = await whoami(token, from('198.51.100.1'))
    expect(await refused.json()).toEqual({error: 'ip_not_allowed', message: 'this token may not be used from 198.51.100.1'})
    // Over IPv6 itself, with no proxy in between: ::1 is allowed.
    expect((await whoami(token, {}, v6url)).status).toBe(200)
    const only4 = await mint({addresses: ['127.0.0.1']})
    expect((await whoami(only4, {}, v6url)).status).toBe(403)
  })

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const token = await mint({addresses: ['203.0.113.7']})
    // The ::1 server trusts no proxy: a client cannot claim an allowed address.
    expect((await whoami(token, from('203.0.113.7'), v6url)).status).toBe(403)
    expect((await whoami(token, from('203.0.113.7'))).status).toBe(200)
  })

  it('referrers: wildcards against the whole URL, and a missing Referer is refused', async () => {
    // Issue 11: a pattern names its scheme and host, and a star in the host stays in the host.
    const token = await mint({referrers: ['https://app.example.com/*', 'https://*.example.org/*']})
    const statusWith = async (referer?: string) => (await whoami(token, from('127.0.0.1', referer))).status
    expect(await statusWith('https://app.example.com/')).toBe(200)
    expect(await statusWith('https://app.example.com/deep/page?x=1')).toBe(200)
    expect(await statusWith('https://web.example.org/')).toBe(200)
    expect(await statusWith('http://app.example.com/')).toBe(403)
    expect(await statusWith('https://app.example.com.evil.test/')).toBe(403)
    expect(await statusWith('https://evil.test/?https://app.example.com/')).toBe(403)
    expect(await statusWith('https://evil.test/.example.org/')).toBe(403)
    expect(await statusWith('https://evil.test/?x=.example.org/')).toBe(403)
    expect(await statusWith()).toBe(403)
    expect(await (await whoami(token, from('127.0.0.1'))).json()).toMatchObject({error: 'referrer_not_allowed'})
  })

  it('rate limits: the request past the limit is 429 with its headers, and the next window allows again', async () => {
    const token = await mint({rateLimit: {maxRequests: 3, timeWindow: 60}})
    // At the start of a window, so that the test does not straddle two.
    clock.now = Math.ceil(clock.now / 60_000) * 60_000 + 1000
    const resetAt = clock.now / 1000 - 1 + 60
    for (const remaining of [2, 1, 0]) {
      const ok = await whoami(token)
      expect(ok.status).toBe(200)
      expect(ok.headers.get('x-ratelimit-limit')).toBe('3')
      expect(ok.headers.get('x-ratelimit-remaining')).toBe(String(remaining))
      expect(ok.headers.get('x-ratelimit-reset')).toBe(String(resetAt))
    }

    const limited = await whoami(token)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(limited.headers.get('x-ratelimit-reset')).toBe(String(resetAt))
    expect(await limited.json()).toMatchObject({error: 'rate_limited'})

    clock.now += 60_000
    expect((await whoami(token)).status).toBe(200)
  })

  it('are given through POST /v1/tokens, each may be false, and bad ones are clear 400s', async () => {
    const admin = (await issuer.createToken({name: 'admin', subject: 'alice', scopes: ['*']})).token
    const create = (restrictions: unknown) =>
      fetch(`${url}/v1/tokens`, {
        method: 'POST',
        headers: {authorization: `Bearer ${admin}`, 'content-type': 'application/json'},
        body: JSON.stringify({name: 'api-made', account: 'acme', restrictions}),
      })

    const made = await create({addresses: ['192.0.2.0/24'], referrers: false, rateLimit: {maxRequests: 10, timeWindow: 60}})
    expect(made.status).toBe(201)
    const body = (await made.json()) as {token: string; restrictions: unknown}
    expect(body.restrictions).toEqual({addresses: ['192.0.2.0/24'], rateLimit: {maxRequests: 10, timeWindow: 60}})
    expect((await whoami(body.token, from('192.0.2.200'))).status).toBe(200)
    expect((await whoami(body.token, from('192.0.3.1'))).status).toBe(403)

    const none = await create({addresses: false, referrers: false, rateLimit: false})
    expect(((await none.json()) as {restrictions: unknown}).restrictions).toBeNull()

    for (const [restrictions, message] of [
      [{addresses: ['300.1.1.1']}, '"300.1.1.1" is not an IPv4 or IPv6 address or CIDR range'],
      [{addresses: ['10.0.0.0/33']}, '"10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR range'],
      [{rateLimit: {maxRequests: 0, timeWindow: 60}}, 'body/restrictions/rateLimit'],
      [{rateLimit: {maxRequests: 5}}, 'body/restrictions/rateLimit'],
      [{referrers: ['https://ok.example/', 'bad\u0007']}, 'referrer pattern must not contain control characters'],
      [{referrers: ['not a url']}, 'referrer pattern "not a url" is not a URL pattern'],
      [{hosts: ['x']}, 'body/restrictions must NOT have additional properties'],
    ] as const) {
      const refused = await create(restrictions)
      expect(refused.status, JSON.stringify(restrictions)).toBe(400)
      expect(((await refused.json()) as {message: string}).message).toContain(message)
    }
  })

  it('the CLI: token create takes them, token verify --ip/--referrer checks them, token show lists them', async () => {
    const created = await runCli(
      ['token', 'create', '-n', 'cli', '--allow-ip', '2001:db8::/48', '--allow-referrer', 'https://*.example.com/*', '--rate-limit', '2/1d', '--json'],
      {home},
    )
    expect(created.code).toBe(0)
    const {token, id, restrictions} = parseJson(created.stdout)
    expect(restrictions).toEqual({addresses: ['2001:db8::/48'], referrers: ['https://*.example.com/*'], rateLimit: {maxRequests: 2, timeWindow: 86_400}})

    const verify = (args: string[]) => runCli(['token', 'verify', '-', '--json', ...args], {home, input: token})
    // Without a request there is nothing to restrict.
    expect((await verify([])).code).toBe(0)
    const ok = await verify(['--ip', '2001:db8:0:1::5', '--referrer', 'https://app.example.com/x'])
    expect(ok.code).toBe(0)
    // A check reads the window without counting in it.
    expect(parseJson(ok.stdout)).toMatchObject({valid: true, rateLimit: {limit: 2, remaining: 2}})
    expect(parseJson((await verify(['--ip', '2001:db8:1::5', '--referrer', 'https://app.example.com/'])).stdout)).toEqual({valid: false, reason: 'ip_not_allowed'})
    expect(parseJson((await verify(['--ip', '2001:db8::5'])).stdout)).toEqual({valid: false, reason: 'referrer_not_allowed'})

    const badFlag = await runCli(['token', 'create', '-n', 'x', '--rate-limit', 'lots'], {home})
    expect(badFlag).toMatchObject({code: 2})
    expect(badFlag.stderr).toMatch(/^Error: --rate-limit: invalid rate limit "lots": use MAX\/WINDOW/)

    const shown = await runCli(['token', 'show', id], {home})
    expect(shown.stdout).toContain('Addresses:    2001:db8::/48')
    expect(shown.stdout).toContain('Rate limit:   2 per 86400 s')
    // Checks at the terminal leave no trail: only its creation is there.
    expect(shown.stdout).not.toMatch(/refused/)
    expect(shown.stdout).toMatch(/created/)
  })
})
