import fc from 'fast-check'
import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp} from '../../src/server/app.js'
import {decodeSegment, encodeSegment, openTestIssuer, signWith, stolenSigningKey} from '../helpers/issuer.js'

/**
 * Random and boundary input at every route and at the verifier. Seeded (FC_SEED to replay a
 * failure) and bounded in runs and time. What must hold: never a 5xx, never a crash, never a
 * token accepted that the issuer did not grant, and nothing stored lost.
 */
const SEED = Number(process.env.FC_SEED ?? 11_2026)
// Each property stops here, well inside its test's 60 s on a loaded 2-core machine.
const TIME_LIMIT_MS = 15_000

const hostileString = fc.oneof(
  fc.string({maxLength: 40}),
  fc.string({unit: 'grapheme', maxLength: 20}),
  fc.constantFrom('', ' ', '\u0000', '\u001b[2J', '\u202e', '../../etc/passwd', '%00', 'null', '__proto__', 'constructor', '*', 'eyJ.eyJ.x'),
  fc.integer({min: 1, max: 5}).map((times) => 'x'.repeat(10 ** times)),
)
const hostileNumber = fc.oneof(
  {weight: 1, arbitrary: fc.integer()},
  {weight: 1, arbitrary: fc.double()},
  {weight: 3, arbitrary: fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 9_000_000_000_000, 1e308, -1e308, 3_153_600_000, 3_153_600_001)},
)
const anything = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.array(hostileString, {maxLength: 3}), fc.jsonValue({maxDepth: 2}))
const restrictions = fc.record(
  {
    addresses: fc.oneof(anything, fc.array(fc.oneof(hostileString, fc.constantFrom('10.0.0.0/8', '::1', '1.2.3.4/33', '::ffff:1.2.3.4')), {maxLength: 4})),
    referrers: fc.oneof(anything, fc.array(fc.oneof(hostileString, fc.constantFrom('https://*.example.com/*', 'https://a*a*a*a*b', 'not a url')), {maxLength: 4})),
    rateLimit: fc.oneof(anything, fc.record({maxRequests: hostileNumber, timeWindow: hostileNumber}, {requiredKeys: []})),
  },
  {requiredKeys: []},
)
// A well-formed request with one field gone wrong, so the fuzzing reaches past the schema to
// the rules behind it (durations, restrictions, the authority rule) and to the store.
const WELL_FORMED = {name: 'fuzz', account: 'acme', scopes: ['api'], expiresIn: '1h'}
const tokenBody = fc.oneof(
  fc.constant(WELL_FORMED),
  fc
    .record({
      field: fc.constantFrom('name', 'description', 'account', 'scopes', 'expiresIn'),
      value: fc.oneof(
        anything,
        hostileNumber,
        fc.array(fc.oneof(hostileString, fc.constantFrom('api', 'tokens', '*', 'metrics', 'introspect')), {maxLength: 4}),
        fc.constantFrom('30d', '101y', '1h30m', '99999999999y'),
      ),
    })
    .map(({field, value}) => ({...WELL_FORMED, [field]: value})),
  restrictions.map((value) => ({...WELL_FORMED, restrictions: value})),
  fc.oneof(hostileNumber, fc.constantFrom('101y', '99999999999y', '0s')).map((expiresIn) => ({...WELL_FORMED, expiresIn})),
)
const rotateBody = fc.record({grace: fc.oneof(hostileNumber, hostileString, fc.constantFrom('1h', '101y'))}, {requiredKeys: []})

describe('fuzzing the HTTP API and the verifier', () => {
  let issuer: LocalIssuer
  let home: string
  let cleanup: () => Promise<void>
  let app: FastifyInstance
  let url: string
  const tokens: Record<string, {token: string; id: string}> = {}
  /** Tokens the fuzzing may revoke and rotate; the bearers above stay valid throughout. */
  const victims: Array<{token: string; id: string}> = []

  beforeAll(async () => {
    ;({issuer, home, cleanup} = await openTestIssuer())
    for (const [key, scopes, account] of [
      ['admin', ['*'], undefined],
      ['narrow', ['tokens', 'api'], 'acme'],
      ['api', ['api'], undefined],
    ] as const) {
      // The admin never expires, so a lifetime it asks for is judged by the lifetime rules, not by its own expiry.
      const created = await issuer.createToken({name: key, subject: 'alice', scopes: [...scopes], account, expiresInSeconds: key === 'admin' ? undefined : 86_400})
      tokens[key] = {token: created.token, id: created.id}
    }

    for (const account of ['acme', 'acme', 'globex', undefined]) {
      const {token, id} = await issuer.createToken({name: 'victim', subject: 'alice', scopes: ['api'], account, expiresInSeconds: 3600})
      victims.push({token, id})
    }

    const settings = (await issuer.settings())!
    app = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1', trustProxy: ['127.0.0.1']})
    url = await app.listen({host: '127.0.0.1', port: 0})
  })
  afterAll(async () => {
    await app?.close()
    await cleanup?.()
  })

  it('answers every route with anything but a 5xx', async () => {
    const bearer = fc.oneof(
      {weight: 6, arbitrary: fc.constantFrom('admin', 'admin', 'narrow', 'narrow', 'api').map((key) => tokens[key]!.token)},
      fc.constantFrom('admin', 'narrow').chain((key) =>
        fc.nat({max: tokens[key]!.token.length - 1}).map((at) => {
          const token = tokens[key]!.token
          return `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`
        }),
      ),
      hostileString,
      fc.constant(undefined),
    )
    const id = fc.oneof({weight: 2, arbitrary: fc.constantFrom(...victims.map((victim) => victim.id))}, {weight: 1, arbitrary: hostileString})
    const json = (body: fc.Arbitrary<unknown>) => body.map((value) => ({type: 'application/json', text: JSON.stringify(value)}))
    const form = fc
      .record({token: fc.oneof(fc.constantFrom(...victims.map((victim) => victim.token)), hostileString), ip: hostileString, referrer: hostileString}, {requiredKeys: []})
      .map((fields) => ({
        type: 'application/x-www-form-urlencoded',
        text: new URLSearchParams(Object.entries(fields).filter((entry): entry is [string, string] => typeof entry[1] === 'string')).toString(),
      }))
    const raw = fc.record({type: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'), text: hostileString})
    // Each route mostly gets the body it expects, with something wrong inside; sometimes anything.
    const bodyFor = (path: string) => {
      const expected = path === '/v1/tokens' ? json(tokenBody) : path.endsWith('/rotate') ? json(rotateBody) : form
      return fc.oneof({weight: 4, arbitrary: expected}, {weight: 1, arbitrary: fc.oneof(raw, json(tokenBody), form, fc.constant(undefined))})
    }

    const request = fc
      .constantFrom(
        ['GET', '/v1/tokens'],
        ['GET', '/v1/tokens?all=true'],
        ['POST', '/v1/tokens'],
        ['GET', '/v1/tokens/:id'],
        ['DELETE', '/v1/tokens/:id?cascade=true'],
        ['DELETE', '/v1/tokens/:id?cascade=maybe'],
        ['POST', '/v1/tokens/:id/rotate'],
        ['GET', '/v1/tokens/:id/trail'],
        ['POST', '/v1/introspect'],
        ['POST', '/v1/revoke'],
        ['GET', '/v1/whoami'],
        ['GET', '/metrics'],
        ['GET', '/healthz'],
        ['GET', '/.well-known/jwks.json'],
        ['PUT', '/:id'],
      )
      .chain((route: readonly [string, string]) =>
        fc.record({
          route: fc.constant(route),
          id,
          bearer,
          body: bodyFor(route[1]!),
          referer: fc.option(hostileString, {nil: undefined}),
          forwardedFor: fc.option(hostileString, {nil: undefined}),
        }),
      )

    await fc.assert(
      fc.asyncProperty(request, async ({route, id, bearer, body, referer, forwardedFor}) => {
        const [method, template] = route
        const headers: Record<string, string> = {}
        const header = (name: string, value: string | undefined) => {
          // Only what HTTP can carry in a header; the rest is not a request anyone can send.
          if (value !== undefined && /^[\t\u0020-\u007e\u0080-\u00ff]*$/.test(value)) headers[name] = value
        }

        header('authorization', bearer === undefined ? undefined : `Bearer ${bearer}`)
        header('referer', referer)
        header('x-forwarded-for', forwardedFor)
        if (body && method !== 'GET') header('content-type', body.type)
        const path = template.replace(':id', encodeURIComponent(id))
        const response = await fetch(`${url}${path}`, {method, headers, body: method === 'GET' ? undefined : body?.text})
        const text = await response.text()
        expect(response.status, `${method} ${path} -> ${text}`).toBeLessThan(500)
        // Whatever was made or rotated is a token that can be shown and used: no unrenderable times stored.
        if (response.status === 201) expect(JSON.parse(text), text).toMatchObject({status: 'active'})
        if (response.status >= 400 && text !== '') expect(JSON.parse(text)).toHaveProperty('error')
      }),
      {seed: SEED, numRuns: 3000, interruptAfterTimeLimit: TIME_LIMIT_MS},
    )

    // Nothing stored was lost or broken: the tokens still list, and those not revoked still work.
    expect((await fetch(`${url}/v1/tokens?all=true`, {headers: {authorization: `Bearer ${tokens.admin!.token}`}})).status).toBeLessThan(500)
    expect((await issuer.listTokens({includeRevoked: true})).length).toBeGreaterThanOrEqual(3)
  }, 60_000)

  it('never accepts a token the issuer did not grant, and never throws', async () => {
    const {key, kid} = await stolenSigningKey(home)
    const real = decodeSegment(tokens.api!.token, 1)
    const header = fc.record(
      {alg: fc.oneof(fc.constant('EdDSA'), anything), kid: fc.oneof(fc.constant(kid), anything), typ: fc.oneof(fc.constant('JWT'), anything), jwk: anything, crit: anything},
      {requiredKeys: []},
    )
    const claims = fc.record(
      {
        aud: fc.oneof(fc.constant(real.aud), anything),
        iat: fc.oneof(fc.constant(real.iat), hostileNumber, anything),
        iss: fc.oneof(fc.constant(real.iss), anything),
        // Never a jti the issuer stored: whatever else the claims say, no such token was granted.
        jti: fc.oneof(fc.stringMatching(/^[0-9A-Za-z]{22}$/), anything),
        nbf: fc.oneof(fc.constant(real.nbf), hostileNumber, anything),
        sub: fc.oneof(fc.constant('alice'), anything),
        exp: fc.oneof(fc.constant(real.exp), hostileNumber, anything),
        scope: fc.oneof(fc.constant('*'), anything),
        account: anything,
        restrictions: fc.oneof(restrictions, anything),
      },
      {requiredKeys: []},
    )
    const candidate = fc.oneof(
      fc.record({header, claims}).map(({header, claims}) => ({header, claims, sign: true})),
      fc.record({header, claims}).map(({header, claims}) => ({header, claims, sign: false})),
      hostileString.map((text) => text),
    )

    await fc.assert(
      fc.asyncProperty(candidate, fc.constantFrom('use', 'check') as fc.Arbitrary<'use' | 'check'>, async (input, purpose) => {
        let token: string
        if (typeof input === 'string') token = input
        else if (input.sign && input.header.alg === 'EdDSA' && typeof input.header.kid === 'string') {
          token = await signWith(key, input.header as {alg: string}, input.claims as Record<string, unknown>).catch(() => 'unsignable')
        } else token = `${encodeSegment(input.header)}.${encodeSegment(input.claims)}.${encodeSegment('sig')}`

        const result = await issuer.verifyToken(token, {
          purpose,
          requiredScopes: ['api'],
          request: {ip: '127.0.0.1', referrer: 'https://app.example.com/'},
        })
        expect(result.valid, token).toBe(false)
      }),
      {seed: SEED, numRuns: 500, interruptAfterTimeLimit: TIME_LIMIT_MS},
    )

    // The real token still verifies: the fuzzing broke nothing.
    expect(await issuer.verifyToken(tokens.api!.token)).toMatchObject({valid: true})
  }, 60_000)
})
