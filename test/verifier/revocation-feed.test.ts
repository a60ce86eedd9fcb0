import {performance} from 'node:perf_hooks'

import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp, type AppOptions} from '../../src/server/app.js'
import {createVerifier, type Verifier} from '../../src/verifier/remote-verifier.js'
import {runCliProcess, tempHome} from '../helpers/cli.js'

// README's bound for a revocation to reach a follower of the feed.
const PROPAGATION_BOUND_MS = 1000
const FEED_STALE_AFTER_MS = 1000

describe('createVerifier({feed: true})', {timeout: 60_000}, () => {
  const dir = tempHome()
  let issuer: LocalIssuer
  let app: FastifyInstance
  let url: string
  let port: number
  let common: AppOptions
  let verifier: Verifier
  let feeder: string

  const outcome = async (token: string, options?: Parameters<Verifier['verify']>[1]) => {
    try {
      const result = await verifier.verify(token, options)
      return result.valid ? 'valid' : result.reason
    } catch (error) {
      return (error as {code?: string}).code
    }
  }

  const resumedFrom: Array<string | undefined> = []
  const listen = async () => {
    app = await buildApp(common)
    app.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/v1/revocations')) resumedFrom.push(request.headers['last-event-id'] as string | undefined)
    })
    url = await app.listen({host: '127.0.0.1', port})
    port = Number(new URL(url).port)
  }

  beforeAll(async () => {
    issuer = await LocalIssuer.open({home: dir.home})
    feeder = (await issuer.createToken({name: 'resource server', scopes: ['introspect']})).token
    const settings = (await issuer.settings())!
    common = {issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => url, feed: {heartbeatMs: 100}}
    port = 0
    await listen()
    verifier = await createVerifier({issuerUrl: url, introspectionToken: feeder, feed: true, feedStaleAfterMs: FEED_STALE_AFTER_MS})
  })

  afterAll(async () => {
    verifier?.close()
    await app?.close()
    await issuer?.close()
    dir.cleanup()
  })

  it('refuses at start-up a feed token it may not follow', async () => {
    const api = (await issuer.createToken({name: 'api only', scopes: ['api']})).token
    await expect(createVerifier({issuerUrl: url, introspectionToken: api, feed: true})).rejects.toMatchObject({code: 'access_denied'})
    await expect(createVerifier({issuerUrl: url, feed: true})).rejects.toMatchObject({code: 'invalid_argument'})
  })

  it('refuses a token revoked on the issuer within the bound, without asking the issuer per call', async () => {
    const {token, id} = await issuer.createToken({name: 'laptop', scopes: ['api']})
    expect(await outcome(token)).toBe('valid')

    await issuer.revokeToken(id)
    const started = performance.now()
    await expect.poll(() => outcome(token), {timeout: PROPAGATION_BOUND_MS, interval: 5}).toBe('revoked')
    const samples = [performance.now() - started]
    for (let i = 0; i < 19; i++) {
      const sample = await issuer.createToken({name: `sample-${i}`, scopes: ['api']})
      expect(await outcome(sample.token)).toBe('valid')
      await issuer.revokeToken(sample.id)
      const revokedAt = performance.now()
      await expect.poll(() => outcome(sample.token), {timeout: PROPAGATION_BOUND_MS, interval: 1}).toBe('revoked')
      samples.push(performance.now() - revokedAt)
    }

    samples.sort((a, b) => a - b)
    const inProcessMs = samples.at(-1)!
    expect(inProcessMs).toBeLessThan(PROPAGATION_BOUND_MS)

    // Revoked by another process (cape token delete): the server hears it from SQLite, then the feed.
    const other = await issuer.createToken({name: 'ci', scopes: ['api']})
    expect(await outcome(other.token)).toBe('valid')
    expect((await runCliProcess(['token', 'delete', other.id], {home: dir.home})).code).toBe(0)
    const deletedAt = performance.now()
    await expect.poll(() => outcome(other.token), {timeout: PROPAGATION_BOUND_MS, interval: 5}).toBe('revoked')
    const otherProcessMs = performance.now() - deletedAt
    expect(otherProcessMs).toBeLessThan(PROPAGATION_BOUND_MS)
    console.info(`feed propagation: revoked in-process p50 ${samples[10]!.toFixed(1)} ms, max of 20 ${inProcessMs.toFixed(1)} ms; by another process ${otherProcessMs.toFixed(1)} ms (after the CLI exited)`)
  })

  it('honours a rotation grace period (a revocation from a future time), and sends a rate-limited token to introspection', async () => {
    const old = await issuer.createToken({name: 'rotating', scopes: ['api']})
    const next = await issuer.rotateToken(old.id, {graceSeconds: 3600})
    await expect.poll(async () => (await issuer.revocationFeed().snapshot()).revoked.some((entry) => entry.jti === old.id)).toBe(true)
    expect(await outcome(old.token)).toBe('valid')
    expect(await outcome(next.token)).toBe('valid')

    // One use a minute: the count is the issuer's, so the second use is refused by introspection.
    const limited = await issuer.createToken({name: 'limited', scopes: ['api'], restrictions: {rateLimit: {maxRequests: 1, timeWindow: 60}}})
    const request = {request: {ip: '127.0.0.1', referrer: null}}
    expect(await outcome(limited.token, request)).toBe('valid')
    expect(await outcome(limited.token, request)).toBe('revoked')
  })

  it('fails closed when the feed is cut, and resumes without missing a revocation made while it was away', async () => {
    const kept = await issuer.createToken({name: 'kept', scopes: ['api']})
    const doomed = await issuer.createToken({name: 'doomed', scopes: ['api']})
    expect(await outcome(kept.token)).toBe('valid')
    expect(await outcome(doomed.token)).toBe('valid')

    await app.close()
    const cutAt = performance.now()
    await expect.poll(() => outcome(kept.token), {timeout: FEED_STALE_AFTER_MS + 1000, interval: 10}).toBe('issuer_unavailable')
    const failedClosedMs = performance.now() - cutAt
    expect(failedClosedMs).toBeLessThan(FEED_STALE_AFTER_MS + 500)

    // Revoked while no server speaks for the issuer: the follower can only learn it by resuming.
    await issuer.revokeToken(doomed.id)
    resumedFrom.length = 0
    await listen()
    const restartedAt = performance.now()
    await expect.poll(() => outcome(doomed.token), {timeout: 5000, interval: 10}).toBe('revoked')
    expect(await outcome(kept.token)).toBe('valid')
    expect(resumedFrom[0]).toMatch(/^[0-9]+$/)
    console.info(`feed cut: failed closed after ${failedClosedMs.toFixed(0)} ms (bound ${FEED_STALE_AFTER_MS} ms); resumed ${(performance.now() - restartedAt).toFixed(0)} ms after the restart`)
  })
})
