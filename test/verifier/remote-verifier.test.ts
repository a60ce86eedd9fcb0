import {createServer, type Server} from 'node:http'

import Fastify, {type FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {capeFastify, capeMiddleware, createVerifier, type Principal} from '../../src/index.js'
import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp} from '../../src/server/app.js'
import {openTestIssuer, signWith, stolenSigningKey} from '../helpers/issuer.js'
import {closedPort} from '../helpers/serve.js'

/** Another service verifying cape tokens: a real cape server on 127.0.0.1, reached over HTTP only. */
describe('createVerifier and the middleware, for other services', () => {
  let issuer: LocalIssuer
  let home: string
  let cleanup: () => Promise<void>
  let cape: FastifyInstance
  let url: string
  const tokens: Record<string, {token: string; id: string}> = {}

  beforeAll(async () => {
    ;({issuer, home, cleanup} = await openTestIssuer())
    const mint = async (key: string, scopes: string[], extra: {account?: string; expiresInSeconds?: number} = {}) => {
      const created = await issuer.createToken({name: key, subject: 'alice', scopes, ...extra})
      tokens[key] = {token: created.token, id: created.id}
    }

    await mint('admin', ['*'])
    await mint('service', ['api'])
    await mint('user', ['api'])
    await mint('bound', ['api'], {account: 'acme'})
    await mint('metricsOnly', ['metrics'])
    await mint('revoked', ['api'])
    await mint('short', ['api'], {expiresInSeconds: 1})
    await issuer.revokeToken(tokens.revoked!.id)
    const settings = (await issuer.settings())!
    cape = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => url})
    url = await cape.listen({host: '127.0.0.1', port: 0})
    // 'short' has expired by the time the tests run.
    await new Promise((resolve) => setTimeout(resolve, 1100))
  })
  afterAll(async () => {
    await cape?.close()
    await cleanup?.()
  })

  it('verifies with the JWKS alone, learning iss and aud from the metadata', async () => {
    const verifier = await createVerifier({issuerUrl: url})
    expect(verifier.issuer).toBe('urn:cape:local')
    expect(await verifier.verify(tokens.user!.token)).toMatchObject({valid: true, id: tokens.user!.id, subject: 'alice', scopes: ['api']})
    expect(await verifier.verify(tokens.user!.token, {requiredScopes: ['tokens']})).toEqual({valid: false, reason: 'insufficient_scope'})
    // The account claim binds a token even where only the JWKS is known.
    expect(await verifier.verify(tokens.bound!.token, {account: 'acme'})).toMatchObject({valid: true, account: 'acme'})
    expect(await verifier.verify(tokens.bound!.token, {account: 'other'})).toEqual({valid: false, reason: 'wrong_account'})
    expect(await verifier.verify(tokens.short!.token)).toEqual({valid: false, reason: 'expired'})
    expect(await verifier.verify('not.a.token')).toEqual({valid: false, reason: 'malformed'})
    // Restrictions travel in the signed claims: address and Referer are checked here, offline.
    const fenced = await issuer.createToken({name: 'fenced', subject: 'alice', restrictions: {addresses: ['10.0.0.0/8'], rateLimit: {maxRequests: 1, timeWindow: 60}}})
    expect(await verifier.verify(fenced.token, {request: {ip: '192.0.2.1'}})).toEqual({valid: false, reason: 'ip_not_allowed'})
    // The rate limit is the issuer's to count: no X-RateLimit figures made up here.
    const inside = await verifier.verify(fenced.token, {request: {ip: '10.0.0.1'}})
    expect(inside).toMatchObject({valid: true})
    expect(inside).not.toHaveProperty('rateLimit')
    // Without introspection a revoked token still passes: that is what introspection is for.
    expect(await verifier.verify(tokens.revoked!.token)).toMatchObject({valid: true})

    const {key, kid} = await stolenSigningKey(home)
    const now = Math.floor(Date.now() / 1000)
    const claims = {aud: ['cape-api'], iat: now, iss: 'urn:cape:local', jti: tokens.user!.id, nbf: now, sub: 'alice'}
    expect(await verifier.verify(await signWith(key, {alg: 'EdDSA', kid, typ: 'JWT'}, {...claims, aud: ['other']}))).toEqual({valid: false, reason: 'wrong_audience'})
    const elsewhere = await createVerifier({jwksUrl: `${url}/.well-known/jwks.json`, issuer: 'https://elsewhere.example', audience: 'cape-api'})
    expect(await elsewhere.verify(tokens.user!.token)).toEqual({valid: false, reason: 'wrong_issuer'})
  })

  it('verifies a token minted over HTTP with nothing but the JWKS URL', async () => {
    const minted = await fetch(`${url}/v1/tokens`, {
      method: 'POST',
      headers: {authorization: `Bearer ${tokens.admin!.token}`, 'content-type': 'application/json'},
      body: JSON.stringify({name: 'minted', account: 'acme', scopes: ['api']}),
    })
    expect(minted.status).toBe(201)
    const {token, id} = (await minted.json()) as {token: string; id: string}
    const onlyJwks = await createVerifier({jwksUrl: `${url}/.well-known/jwks.json`, issuer: 'urn:cape:local', audience: 'cape-api'})
    expect(await onlyJwks.verify(token, {requiredScopes: ['api'], account: 'acme'})).toMatchObject({valid: true, id, subject: 'alice', account: 'acme'})

    // With an explicit introspection URL, its revocation is seen at once.
    const asking = await createVerifier({
      jwksUrl: `${url}/.well-known/jwks.json`,
      issuer: 'urn:cape:local',
      audience: 'cape-api',
      introspectionUrl: `${url}/v1/introspect`,
      introspectionToken: tokens.service!.token,
    })
    expect(await asking.verify(token)).toMatchObject({valid: true, name: 'minted'})
    const revoke = await fetch(`${url}/v1/revoke`, {
      method: 'POST',
      headers: {authorization: `Bearer ${tokens.admin!.token}`, 'content-type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({token}).toString(),
    })
    expect(revoke.status).toBe(200)
    expect(await asking.verify(token)).toEqual({valid: false, reason: 'revoked'})
  })

  it('asks the issuer on every call when given a token to introspect with', async () => {
    const verifier = await createVerifier({issuerUrl: url, introspectionToken: tokens.service!.token})
    expect(await verifier.verify(tokens.user!.token)).toMatchObject({valid: true, name: 'user'})
    expect(await verifier.verify(tokens.revoked!.token)).toEqual({valid: false, reason: 'revoked'})

    const victim = await issuer.createToken({name: 'victim', subject: 'alice', scopes: ['api']})
    expect(await verifier.verify(victim.token)).toMatchObject({valid: true})
    await issuer.revokeToken(victim.id)
    expect(await verifier.verify(victim.token)).toEqual({valid: false, reason: 'revoked'})

    const refusedAsker = await createVerifier({issuerUrl: url, introspectionToken: tokens.metricsOnly!.token})
    await expect(refusedAsker.verify(tokens.user!.token)).rejects.toMatchObject({code: 'access_denied'})
  })

  it('follows key rotation and retirement through the JWKS', async () => {
    // An issuer of its own: retiring a key here must not touch the other tests' tokens.
    const own = await openTestIssuer()
    const settings = await own.issuer.init()
    let ownUrl = ''
    const server = await buildApp({issuer: own.issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => ownUrl})
    ownUrl = await server.listen({host: '127.0.0.1', port: 0})
    try {
      const verifier = await createVerifier({issuerUrl: ownUrl, jwksCooldownMs: 0, jwksMaxAgeMs: 200})
      const old = await own.issuer.createToken({name: 'old key'})
      expect(await verifier.verify(old.token)).toMatchObject({valid: true})

      await own.issuer.rotateSigningKey()
      const fresh = await own.issuer.createToken({name: 'new key'})
      // An unknown kid fetches the JWKS again.
      expect(await verifier.verify(fresh.token)).toMatchObject({valid: true})

      await own.issuer.retireSigningKey(old.kid)
      await new Promise((resolve) => setTimeout(resolve, 250))
      await verifier.verify(fresh.token) // the keys are old now: fetched again, in the background
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await verifier.verify(old.token)).toEqual({valid: false, reason: 'unknown_key'})
      expect(await verifier.verify(fresh.token)).toMatchObject({valid: true})
    } finally {
      await server.close()
      await own.cleanup()
    }
  })

  it('fails at creation, in one clear error, when the issuer cannot be used', async () => {
    const port = await closedPort()
    await expect(createVerifier({issuerUrl: `http://127.0.0.1:${port}`})).rejects.toMatchObject({
      code: 'issuer_unavailable',
      message: `cannot reach the issuer at http://127.0.0.1:${port}: connection refused (is "cape issuer serve" running there?)`,
    })
    await expect(createVerifier({issuerUrl: 'http://cape.example.com'})).rejects.toMatchObject({code: 'invalid_issuer_url'})
    await expect(createVerifier({jwksUrl: `${url}/.well-known/jwks.json`, audience: 'cape-api'})).rejects.toMatchObject({
      message: 'createVerifier needs issuer (the iss to accept) when given only jwksUrl',
    })
    await expect(createVerifier({issuerUrl: url, introspectionUrl: `${url}/v1/introspect`})).rejects.toMatchObject({code: 'invalid_argument'})
    await expect(createVerifier({issuerUrl: `${url}/nothing-here`})).rejects.toMatchObject({code: 'issuer_unavailable'})
  })

  it('protects a Fastify service: request.cape, RFC 6750 refusals, account from the route', async () => {
    const verifier = await createVerifier({issuerUrl: url, introspectionToken: tokens.service!.token})
    const service = Fastify()
    await service.register(capeFastify, {verifier, scope: 'api', account: (request) => (request.params as {account?: string}).account})
    service.get('/hello', async (request) => ({hello: request.cape!.subject, token: request.cape!.id}))
    service.get('/accounts/:account', async (request) => ({account: request.cape!.account}))
    const base = await service.listen({host: '127.0.0.1', port: 0})
    const get = (path: string, token?: string) => fetch(`${base}${path}`, {headers: token ? {authorization: `Bearer ${token}`} : {}})
    try {
      const ok = await get('/hello', tokens.user!.token)
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({hello: 'alice', token: tokens.user!.id})

      const none = await get('/hello')
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="cape"')
      const revoked = await get('/hello', tokens.revoked!.token)
      expect(revoked.status).toBe(401)
      expect(revoked.headers.get('www-authenticate')).toBe('Bearer realm="cape", error="invalid_token", error_description="revoked"')
      expect(await revoked.json()).toEqual({error: 'invalid_token', message: 'the bearer token is not valid: revoked', reason: 'revoked'})
      const scope = await get('/hello', tokens.metricsOnly!.token)
      expect(scope.status).toBe(403)
      expect(await scope.json()).toEqual({error: 'insufficient_scope', message: 'this needs a token with scope "api"'})

      expect((await get('/accounts/acme', tokens.bound!.token)).status).toBe(200)
      const other = await get('/accounts/other', tokens.bound!.token)
      expect(other.status).toBe(403)
      expect(await other.json()).toMatchObject({error: 'wrong_account'})
    } finally {
      await service.close()
    }
  })

  it('protects a plain Node server through (req, res, next) middleware, and answers 503 when the issuer is gone', async () => {
    const verifier = await createVerifier({issuerUrl: url, introspectionToken: tokens.service!.token, timeoutMs: 2000})
    const guard = capeMiddleware({verifier, scope: 'api'})
    const server: Server = createServer((request, response) => {
      guard(request as typeof request & {cape?: Principal}, response, () => {
        response.end(JSON.stringify({subject: (request as typeof request & {cape: Principal}).cape.subject}))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as {port: number}).port}`
    const get = (token?: string) => fetch(base, {headers: token ? {authorization: `Bearer ${token}`} : {}})
    try {
      const ok = await get(tokens.user!.token)
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({subject: 'alice'})
      const refused = await get('garbage')
      expect(refused.status).toBe(401)
      expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(await refused.json()).toMatchObject({error: 'invalid_token', reason: 'malformed'})

      // The issuer stops: fail closed, with a 503 that names no host behind the service.
      await cape.close()
      const down = await get(tokens.user!.token)
      expect(down.status).toBe(503)
      expect(await down.json()).toEqual({error: 'issuer_unavailable', message: 'the service is briefly unable to check tokens; try again'})
    } finally {
      server.close()
    }
  })
})
