import {BlockList, isIP} from 'node:net'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import type {Restrictions} from '../../src/issuer/types.js'
import {tempHome} from '../helpers/cli.js'
import {decodeSegment} from '../helpers/issuer.js'
import {startServe, type ServeProcess} from '../helpers/serve.js'

/**
 * Whatever a token does through the API (mint, mint through what it minted, rotate siblings and
 * descendants), no token that comes out holds more than the original on any axis. The oracle
 * below is written apart from src/issuer/authority.ts, and judges the signed claims, which is
 * what every verifier believes.
 */

const REFERER = 'https://app.example.com/settings/tokens'
const SCOPES = ['api', 'tokens', 'x:read', 'x:write', '*', 'metrics'] as const
const ACCOUNTS = ['acme', 'globex'] as const
// Each range with its first and last address, so containment is checked with node's BlockList.
const RANGES: Record<string, [string, string]> = {
  '127.0.0.1': ['127.0.0.1', '127.0.0.1'],
  '127.0.0.0/16': ['127.0.0.0', '127.0.255.255'],
  '127.0.0.0/8': ['127.0.0.0', '127.255.255.255'],
  '10.1.2.3': ['10.1.2.3', '10.1.2.3'],
  '10.0.0.0/8': ['10.0.0.0', '10.255.255.255'],
  '0.0.0.0/0': ['0.0.0.0', '255.255.255.255'],
  '::1': ['::1', '::1'],
  '::/0': ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
}
const PATTERNS = [
  'https://app.example.com/settings/tokens',
  'https://app.example.com/settings/*',
  'https://app.example.com/*',
  'https://*.example.com/*',
  'https://*/*',
  'https://*',
] as const
// Referers to judge referrer patterns by: whatever a child admits of these, its origin must too.
const SAMPLE_REFERERS = [
  REFERER,
  'https://app.example.com/',
  'https://app.example.com/settings/',
  'https://app.example.com/other',
  'https://a.example.com/x',
  'https://evil.com/',
  'http://app.example.com/settings/tokens',
  'ftp://x',
]

interface Authority {
  sub: string
  scopes: string[]
  account: string | undefined
  restrictions: Restrictions | undefined
  exp: number | undefined
}

function authorityOfToken(token: string): Authority {
  const claims = decodeSegment(token, 1)
  return {
    sub: claims.sub,
    scopes: claims.scope === '' ? [] : claims.scope.split(' '),
    account: claims.account,
    restrictions: claims.restrictions,
    exp: claims.exp,
  }
}

const globMatches = (pattern: string, text: string) =>
  new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 's').test(text)

/** A Referer pattern's meaning (README): the scheme exactly, `*` in the host within the host, the path `/` when none is given. */
function admitsReferer(pattern: string, referer: string): boolean {
  const [scheme, rest] = pattern.split('://') as [string, string]
  const cut = rest.search(/[/?]/)
  const [host, path] = cut === -1 ? [rest, '/'] : [rest.slice(0, cut), rest.slice(cut)]
  const url = new URL(referer)
  return url.protocol === `${scheme}:` && globMatches(host, url.host) && globMatches(path, `${url.pathname}${url.search}`)
}

function rangeWithin(child: string, parent: string): boolean {
  const [first, last] = RANGES[child]!
  const list = new BlockList()
  const [address, prefix] = parent.split('/') as [string, string | undefined]
  const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
  if (isIP(first) !== isIP(address)) return false
  if (prefix === undefined) list.addAddress(address, type)
  else list.addSubnet(address, Number(prefix), type)
  return list.check(first, type) && list.check(last, type)
}

/** Every way `child` may hold more than `origin`, as text; empty when it holds no more. */
function excess(child: Authority, origin: Authority): string[] {
  const found: string[] = []
  if (child.sub !== origin.sub) found.push('subject')
  if (!child.scopes.every((scope) => origin.scopes.includes(scope))) found.push(`scopes ${child.scopes}`)
  if (origin.account !== undefined && child.account !== origin.account) found.push(`account ${child.account}`)
  if (origin.exp !== undefined && (child.exp === undefined || child.exp > origin.exp)) found.push(`exp ${child.exp}`)
  const outer = origin.restrictions ?? {}
  const inner = child.restrictions ?? {}
  if (outer.addresses && !inner.addresses?.every((entry) => outer.addresses!.some((range) => rangeWithin(entry, range)))) {
    found.push(`addresses ${inner.addresses}`)
  }

  if (outer.referrers) {
    const admits = (patterns: readonly string[] | undefined, url: string) => patterns === undefined || patterns.some((pattern) => admitsReferer(pattern, url))
    if (SAMPLE_REFERERS.some((url) => admits(inner.referrers, url) && !admits(outer.referrers, url))) found.push(`referrers ${inner.referrers}`)
  }

  if (outer.rateLimit) {
    const a = inner.rateLimit
    const b = outer.rateLimit
    if (!a || a.maxRequests > b.maxRequests || a.maxRequests * b.timeWindow > b.maxRequests * a.timeWindow) found.push(`rateLimit ${JSON.stringify(a)}`)
  }

  return found
}

const restrictionsArbitrary = fc.record(
  {
    addresses: fc.oneof(fc.constant(false as const), fc.uniqueArray(fc.constantFrom(...Object.keys(RANGES)), {minLength: 1, maxLength: 3})),
    referrers: fc.oneof(fc.constant(false as const), fc.uniqueArray(fc.constantFrom(...PATTERNS), {minLength: 1, maxLength: 2})),
    rateLimit: fc.oneof(
      fc.constant(false as const),
      fc.record({maxRequests: fc.constantFrom(1, 10, 1000, 100_000), timeWindow: fc.constantFrom(1, 60, 3600)}),
    ),
  },
  {requiredKeys: []},
)

const commandArbitrary = fc.oneof(
  fc.record({
    kind: fc.constant('mint' as const),
    through: fc.nat(),
    // Mostly what a careful caller would ask (so chains grow deep), sometimes anything at all.
    scopes: fc.option(
      fc.oneof(
        {weight: 3, arbitrary: fc.constantFrom(['tokens'], ['tokens', 'api'], ['api'])},
        {weight: 1, arbitrary: fc.uniqueArray(fc.constantFrom(...SCOPES), {minLength: 1, maxLength: 3})},
      ),
      {nil: undefined, freq: 4},
    ),
    account: fc.option(fc.constantFrom(...ACCOUNTS), {nil: undefined, freq: 2}),
    restrictions: fc.option(restrictionsArbitrary, {nil: undefined, freq: 2}),
    expiresIn: fc.option(fc.constantFrom(30, 3600, 7200, 400 * 86_400), {nil: undefined}),
  }),
  fc.record({kind: fc.constant('rotate' as const), through: fc.nat(), target: fc.nat()}),
)

const originArbitrary = fc.record({
  extraScopes: fc.uniqueArray(fc.constantFrom('x:read', 'x:write'), {maxLength: 2}),
  account: fc.option(fc.constantFrom(...ACCOUNTS), {nil: undefined}),
  addresses: fc.option(fc.constantFrom(['127.0.0.0/8'], ['127.0.0.0/16', '10.0.0.0/8'], ['0.0.0.0/0', '::1']), {nil: undefined}),
  referrers: fc.option(fc.constantFrom(['https://app.example.com/*'], ['https://*.example.com/*', 'https://app.example.com/settings/tokens']), {nil: undefined}),
  rateLimit: fc.option(fc.constantFrom({maxRequests: 100_000, timeWindow: 60}, {maxRequests: 1000, timeWindow: 1}), {nil: undefined}),
  expiresIn: fc.option(fc.constantFrom(3600, 86_400), {nil: undefined}),
})

describe('the authority rule, as a property', () => {
  const dir = tempHome()
  let owner: LocalIssuer
  let server: ServeProcess

  const post = async (path: string, bearer: string, json: unknown) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {authorization: `Bearer ${bearer}`, referer: REFERER, 'content-type': 'application/json'},
      body: JSON.stringify(json),
    })
    return {status: response.status, body: (await response.json()) as {token?: string; id?: string; error?: string}}
  }

  beforeAll(async () => {
    owner = await LocalIssuer.open({home: dir.home})
    await owner.init()
    server = await startServe(dir.home)
  })
  afterAll(async () => {
    await server?.stop()
    await owner?.close()
    dir.cleanup()
  })

  it('no sequence of mints and rotations through a token yields more than it holds', async () => {
    const seed = Number(process.env.FC_SEED ?? 20_261_203)
    await fc.assert(
      fc.asyncProperty(originArbitrary, fc.array(commandArbitrary, {minLength: 2, maxLength: 10}), async (origin, commands) => {
        const {addresses, referrers, rateLimit} = origin
        const originToken = await owner.createToken({
          name: 'origin',
          subject: 'alice',
          scopes: ['tokens', 'api', ...origin.extraScopes],
          account: origin.account,
          expiresInSeconds: origin.expiresIn,
          restrictions: {addresses, referrers, rateLimit},
        })
        // Broader siblings of the same subject, there to be rotated by the attacker.
        const siblings = await Promise.all([
          owner.createToken({name: 'root', subject: 'alice', scopes: ['*']}),
          owner.createToken({name: 'wide', subject: 'alice', scopes: ['tokens', 'api', 'x:write'], account: 'globex'}),
          owner.createToken({name: 'same-account', subject: 'alice', scopes: ['api', 'x:write'], account: origin.account}),
        ])
        const held = [{id: originToken.id, token: originToken.token}]
        const targets = [...held, ...siblings.map(({id, token}) => ({id, token}))]
        for (const command of commands) {
          const caller = held[command.through % held.length]!
          const answer =
            command.kind === 'mint'
              ? await post('/v1/tokens', caller.token, {
                  name: 'derived',
                  ...(command.scopes ? {scopes: command.scopes} : {}),
                  ...(command.account ? {account: command.account} : {}),
                  ...(command.restrictions ? {restrictions: command.restrictions} : {}),
                  ...(command.expiresIn ? {expiresIn: command.expiresIn} : {}),
                })
              : await post(`/v1/tokens/${targets[command.target % targets.length]!.id}/rotate`, caller.token, {})
          expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500)
          if (answer.status === 201) {
            const derived = {id: answer.body.id!, token: answer.body.token!}
            held.push(derived)
            targets.push(derived)
          }
        }

        const originAuthority = authorityOfToken(originToken.token)
        for (const {token} of held) expect(excess(authorityOfToken(token), originAuthority), token).toEqual([])
      }),
      {seed, numRuns: 100, endOnFailure: true},
    )
  }, 120_000)
})
