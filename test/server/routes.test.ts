import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp} from '../../src/server/app.js'
import {openTestIssuer, stolenSigningKey, signWith} from '../helpers/issuer.js'

/** Every route over real HTTP on 127.0.0.1, against a real issuer in a temp CAPE_HOME. */
describe('the HTTP issuer', () => {
  let issuer: LocalIssuer
  let home: string
  let clock: {now: number}
  let cleanup: () => Promise<void>
  let app: FastifyInstance
  let url: string
  const tokens: Record<string, {token: string; id: string}> = {}

  const call = (path: string, init: RequestInit & {bearer?: string} = {}) => {
    const headers = new Headers(init.headers)
    if (init.bearer) headers.set('authorization', `Bearer ${init.bearer}`)
    return fetch(`${url}${path}`, {...init, headers})
  }
  const form = (path: string, bearer: string | undefined, fields: Record<string, string>) =>
    call(path, {method: 'POST', bearer, headers: {'content-type': 'application/x-www-form-urlencoded'}, body: new URLSearchParams(fields).toString()})

  beforeAll(async () => {
    ;({issuer, home, clock, cleanup} = await openTestIssuer())
    const mint = async (key: string, subject: string, scopes: string[], expiresInSeconds?: number) => {
      const created = await issuer.createToken({name: key, subject, scopes, expiresInSeconds})
      tokens[key] = {token: created.token, id: created.id}
    }

    await mint('alice', 'alice', ['*'])
    await mint('aliceApi', 'alice', ['api'])
    await mint('aliceTokens', 'alice', ['tokens'])
    await mint('metrics', 'ops', ['metrics'])
    await mint('bob', 'bob', ['*'])
    await mint('gateway', 'gateway', ['introspect'])
    await mint('short', 'alice', ['api'], 60)
    const settings = (await issuer.settings())!
    app = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => url})
    const address = await app.listen({host: '127.0.0.1', port: 0})
    url = address
  })
  afterAll(async () => {
    await app?.close()
    await cleanup?.()
  })

  it('publishes the JWKS and RFC 8414 metadata, and answers health checks', async () => {
    const jwks = await call('/.well-known/jwks.json')
    expect(jwks.status).toBe(200)
    expect(await jwks.json()).toEqual(await issuer.jwks())

    const metadata = await (await call('/.well-known/oauth-authorization-server')).json()
    expect(metadata).toMatchObject({
      issuer: 'urn:cape:local',
      jwks_uri: `${url}/.well-known/jwks.json`,
      introspection_endpoint: `${url}/v1/introspect`,
      revocation_endpoint: `${url}/v1/revoke`,
    })
    expect(await (await call('/healthz')).json()).toEqual({status: 'ok'})
  })

  it('says who the bearer is, and refuses the rest with RFC 6750 answers', async () => {
    const ok = await call('/v1/whoami', {bearer: tokens.aliceApi!.token})
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({subject: 'alice', id: tokens.aliceApi!.id, name: 'aliceApi', scopes: ['api']})

    const none = await call('/v1/whoami')
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="cape"')
    expect(await none.json()).toMatchObject({error: 'unauthorized'})

    const garbage = await call('/v1/whoami', {bearer: 'not-a-token'})
    expect(garbage.status).toBe(401)
    expect(garbage.headers.get('www-authenticate')).toBe('Bearer realm="cape", error="invalid_token", error_description="malformed"')

    const basic = await call('/v1/whoami', {headers: {authorization: 'Basic dXNlcjpwYXNz'}})
    expect(basic.status).toBe(401)

    // whoami needs no scope: any valid token may ask who it is.
    expect((await call('/v1/whoami', {bearer: tokens.metrics!.token})).status).toBe(200)
    const wrongScope = await call('/v1/tokens', {bearer: tokens.metrics!.token})
    expect(wrongScope.status).toBe(403)
    expect(wrongScope.headers.get('www-authenticate')).toBe('Bearer realm="cape", error="insufficient_scope", scope="tokens"')
    expect(await wrongScope.json()).toEqual({error: 'insufficient_scope', message: 'this needs a token with scope "tokens"'})
  })

  it('lists, shows and revokes only the bearer’s own tokens', async () => {
    const listed = await (await call('/v1/tokens', {bearer: tokens.aliceTokens!.token})).json()
    const names = (listed as Array<{name: string; subject: string}>).map((token) => token.name).sort()
    expect(names).toEqual(['alice', 'aliceApi', 'aliceTokens', 'short'])
    expect(JSON.stringify(listed)).not.toMatch(/eyJ/)

    expect((await call(`/v1/tokens/${tokens.bob!.id}`, {bearer: tokens.alice!.token})).status).toBe(404)
    expect((await call(`/v1/tokens/${tokens.bob!.id}`, {method: 'DELETE', bearer: tokens.alice!.token})).status).toBe(404)
    expect((await call('/v1/tokens', {bearer: tokens.aliceApi!.token})).status).toBe(403)

    const victim = await issuer.createToken({name: 'victim', subject: 'alice'})
    const shown = await call(`/v1/tokens/${victim.id}`, {bearer: tokens.aliceTokens!.token})
    expect(await shown.json()).toMatchObject({id: victim.id, name: 'victim', status: 'active'})
    const deleted = await call(`/v1/tokens/${victim.id}`, {method: 'DELETE', bearer: tokens.aliceTokens!.token})
    expect(deleted.status).toBe(200)
    expect(await deleted.json()).toMatchObject({id: victim.id, status: 'revoked'})
    expect((await call(`/v1/tokens/${victim.id}`, {method: 'DELETE', bearer: tokens.aliceTokens!.token})).status).toBe(409)
    expect(await issuer.verifyToken(victim.token)).toEqual({valid: false, reason: 'revoked'})
  })

  it('mints account-bound tokens for the bearer, never above its scopes', async () => {
    const json = (body: unknown, bearer = tokens.aliceTokens!.token) =>
      call('/v1/tokens', {method: 'POST', bearer, headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})

    const created = await json({name: 'ci', scopes: ['tokens'], expiresIn: '30d', account: 'acme'})
    expect(created.status).toBe(201)
    const token = (await created.json()) as {token: string; id: string; subject: string; account: string; scopes: string[]; expiresAt: string}
    expect(token).toMatchObject({subject: 'alice', account: 'acme', scopes: ['tokens']})
    expect(Date.parse(token.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000)
    expect(await issuer.verifyToken(token.token, {account: 'acme'})).toMatchObject({valid: true, account: 'acme'})
    expect(await issuer.verifyToken(token.token, {account: 'other'})).toEqual({valid: false, reason: 'wrong_account'})
    // an unbound token acts on any account
    expect((await issuer.verifyToken(tokens.alice!.token, {account: 'other'})).valid).toBe(true)

    const refusals: Array<[unknown, number, string]> = [
      [{name: 'x'}, 400, 'invalid_argument'], // an unbound caller must name the account
      [{name: 'x', account: 'acme', scopes: ['*']}, 403, 'scope_not_allowed'],
      [{name: 'x', account: 'acme', scopes: ['metrics']}, 403, 'scope_not_allowed'],
      [{name: 'x', account: 'acme', scopes: ['api']}, 403, 'scope_not_allowed'], // aliceTokens has only "tokens"
      [{name: 'x', account: 'acme', scopes: ['tokens'], expiresIn: 'soon'}, 400, 'invalid_duration'],
      [{name: 'x', account: 'acme', extra: true}, 400, 'invalid_request'],
    ]
    for (const [body, status, error] of refusals) {
      const response = await json(body)
      expect({status: response.status, error: ((await response.json()) as {error: string}).error}).toEqual({status, error})
    }

    // "*" may delegate any scope but the reserved ones
    expect((await json({name: 'y', account: 'acme', scopes: ['api', 'tokens']}, tokens.alice!.token)).status).toBe(201)
    expect((await json({name: 'z', account: 'acme'}, tokens.aliceApi!.token)).status).toBe(403)
  })

  it('introspects as RFC 7662 says: claims when active, nothing else when not', async () => {
    const active = await form('/v1/introspect', tokens.gateway!.token, {token: tokens.bob!.token})
    expect(active.status).toBe(200)
    expect(await active.json()).toMatchObject({active: true, sub: 'bob', jti: tokens.bob!.id, scope: '*', iss: 'urn:cape:local', token_type: 'Bearer'})

    const revoked = await issuer.createToken({name: 'revoked', subject: 'alice'})
    await issuer.revokeToken(revoked.id)
    const {kid} = await stolenSigningKey(home)
    const foreign = await signWith(new Uint8Array(32).fill(7), {alg: 'HS256', kid}, {sub: 'alice', jti: revoked.id})
    const forged = `${tokens.bob!.token.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`
    for (const token of [revoked.token, forged, foreign, 'garbage']) {
      const inactive = await form('/v1/introspect', tokens.aliceApi!.token, {token})
      expect(await inactive.json()).toEqual({active: false})
    }

    clock.now += 120_000 // "short" lived 60 s
    try {
      expect(await (await form('/v1/introspect', tokens.aliceApi!.token, {token: tokens.short!.token})).json()).toEqual({active: false})
    } finally {
      clock.now -= 120_000
    }

    expect((await form('/v1/introspect', undefined, {token: tokens.bob!.token})).status).toBe(401)
    const missing = await form('/v1/introspect', tokens.aliceApi!.token, {})
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({error: 'invalid_request'})
  })

  it('revokes as RFC 7009 says, then introspection says inactive', async () => {
    const target = await issuer.createToken({name: 'to-revoke', subject: 'alice'})
    const revoked = await form('/v1/revoke', tokens.aliceApi!.token, {token: target.token, token_type_hint: 'access_token'})
    expect(revoked.status).toBe(200)
    expect(await (await form('/v1/introspect', tokens.aliceApi!.token, {token: target.token})).json()).toEqual({active: false})
    // again, and for a token that was never valid: still 200
    expect((await form('/v1/revoke', tokens.aliceApi!.token, {token: target.token})).status).toBe(200)
    expect((await form('/v1/revoke', tokens.aliceApi!.token, {token: 'garbage'})).status).toBe(200)
    // another subject's token stays valid, and the answer says nothing of it (issue 10's review)
    expect((await form('/v1/revoke', tokens.aliceApi!.token, {token: tokens.bob!.token})).status).toBe(200)
    expect((await issuer.verifyToken(tokens.bob!.token)).valid).toBe(true)
  })

  it('serves Prometheus metrics to the metrics scope only', async () => {
    const metrics = await call('/metrics', {bearer: tokens.metrics!.token})
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await metrics.text()
    expect(text).toMatch(/^cape_http_requests_total\{method="GET",route="\/v1\/whoami",status="200"\} \d+$/m)
    expect(text).toMatch(/^cape_token_verifications_total\{result="malformed"\} \d+$/m)
    expect((await call('/metrics', {bearer: tokens.aliceApi!.token})).status).toBe(403)
  })

  it('answers bad requests with a JSON error and never a stack trace', async () => {
    const tooLarge = await form('/v1/introspect', tokens.aliceApi!.token, {token: 'x'.repeat(100_000)})
    expect(tooLarge.status).toBe(413)
    const badJson = await call('/v1/introspect', {method: 'POST', bearer: tokens.aliceApi!.token, headers: {'content-type': 'application/json'}, body: '{"token":'})
    expect(badJson.status).toBe(400)
    const unknown = await call('/v1/nothing?token=secret')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({error: 'not_found', message: 'no route GET /v1/nothing'})
    for (const response of [tooLarge, badJson]) {
      const body = (await response.json()) as {error: string; message: string}
      expect(Object.keys(body).sort()).toEqual(['error', 'message'])
      expect(body.message).not.toMatch(/\bat .+:\d+:\d+/)
    }
  })

  it('rotates one of the bearer’s tokens over HTTP, with a grace period, and shows its trail', async () => {
    const target = await issuer.createToken({name: 'rotate me', subject: 'alice', scopes: ['tokens']})
    const rotated = await call(`/v1/tokens/${target.id}/rotate`, {
      method: 'POST',
      bearer: tokens.aliceTokens!.token,
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({grace: '1h'}),
    })
    expect(rotated.status).toBe(201)
    const body = (await rotated.json()) as {token: string; id: string; name: string; previous: {id: string; status: string; rotatedTo: string}}
    expect(body).toMatchObject({name: 'rotate me', previous: {id: target.id, status: 'active', rotatedTo: body.id}})
    expect((await call('/v1/whoami', {bearer: body.token})).status).toBe(200)
    expect((await call('/v1/whoami', {bearer: target.token})).status).toBe(200)

    clock.now += 3600_000
    const reused = await call('/v1/whoami', {bearer: target.token})
    expect(reused.status).toBe(401)
    expect(await reused.json()).toMatchObject({reason: 'revoked'})
    expect((await call('/v1/whoami', {bearer: body.token})).status).toBe(401)

    const trail = await call(`/v1/tokens/${target.id}/trail`, {bearer: tokens.aliceTokens!.token})
    expect(((await trail.json()) as Array<{event: string}>).map((entry) => entry.event)).toEqual(['created', 'rotated', 'reuse_detected', 'refused'])
    const foreign = await call(`/v1/tokens/${target.id}/rotate`, {method: 'POST', bearer: tokens.bob!.token})
    expect(foreign.status).toBe(404)
    clock.now -= 3600_000
  })
})
