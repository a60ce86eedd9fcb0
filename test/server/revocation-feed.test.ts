import {connect} from 'node:net'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {buildApp, type AppOptions} from '../../src/server/app.js'
import {tempHome} from '../helpers/cli.js'
import {openStream} from '../helpers/event-stream.js'

const HEARTBEAT_MS = 100
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

describe('GET /v1/revocations', {timeout: 60_000}, () => {
  const dir = tempHome()
  let issuer: LocalIssuer
  let app: FastifyInstance
  let url: string
  let common: AppOptions
  const tokens: Record<string, {token: string; id: string}> = {}
  const mint = async (name: string, scopes: string[], extra: {account?: string; expiresInSeconds?: number} = {}) => {
    const created = await issuer.createToken({name, scopes, ...extra})
    tokens[name] = {token: created.token, id: created.id}
    return tokens[name]!
  }
  const get = (bearer: string | undefined, path = '/v1/revocations', headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {headers: {...(bearer ? {authorization: `Bearer ${bearer}`} : {}), ...headers}})

  beforeAll(async () => {
    issuer = await LocalIssuer.open({home: dir.home})
    await mint('feeder', ['introspect'])
    await mint('star', ['*'])
    await mint('api', ['api'])
    await mint('bound', ['introspect'], {account: 'acme'})
    await mint('metrics', ['metrics'])
    const settings = (await issuer.settings())!
    common = {issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: 'http://127.0.0.1', feed: {heartbeatMs: HEARTBEAT_MS}}
    app = await buildApp(common)
    url = await app.listen({host: '127.0.0.1', port: 0})
  })

  afterAll(async () => {
    await app?.close()
    await issuer?.close()
    dir.cleanup()
  })

  describe('refuses', () => {
    it('a request without a bearer (401), a token without scope introspect (403), a token bound to an account (403)', async () => {
      for (const accept of ['application/json', 'text/event-stream']) {
        const none = await get(undefined, '/v1/revocations', {accept})
        expect(none.status).toBe(401)
        expect(none.headers.get('www-authenticate')).toContain('Bearer')

        const api = await get(tokens.api!.token, '/v1/revocations', {accept})
        expect(api.status).toBe(403)
        expect(await api.json()).toMatchObject({error: 'insufficient_scope'})

        // The feed names every account's revocations: an account-bound caller sees only its own account.
        const bound = await get(tokens.bound!.token, '/v1/revocations', {accept})
        expect(bound.status).toBe(403)
        expect(await bound.json()).toMatchObject({error: 'authority_exceeded', reason: 'account'})
      }
    })

    it('a hostile Last-Event-ID or since (negative, 1e309, not a number, huge) with 400, never a 500, and keeps serving', async () => {
      // Arabic-Indic digits, which a careless Number() or \d would take.
      const query = await get(tokens.feeder!.token, `/v1/revocations?since=${encodeURIComponent('١٢')}`)
      expect(query.status).toBe(400)
      for (const value of ['-1', '1e309', 'abc', '', '0x10', '1 2', '9'.repeat(16), 'x'.repeat(8000)]) {
        const header = await get(tokens.feeder!.token, '/v1/revocations', {accept: 'text/event-stream', 'last-event-id': value})
        expect([400], `Last-Event-ID ${JSON.stringify(value.slice(0, 20))}`).toContain(header.status)
        expect(await header.json()).toMatchObject({error: 'invalid_request'})
        const query = await get(tokens.feeder!.token, `/v1/revocations?since=${encodeURIComponent(value)}`)
        expect(query.status).toBe(400)
      }

      // Larger than Node lets any header be: refused by Node itself, the server unharmed.
      const tooLarge = await get(tokens.feeder!.token, '/v1/revocations', {accept: 'text/event-stream', 'last-event-id': '1'.repeat(100_000)}).catch(() => undefined)
      expect(tooLarge === undefined || tooLarge.status === 431).toBe(true)
      expect((await get(tokens.feeder!.token)).status).toBe(200)
    })
  })

  it('answers a plain request with the snapshot: revoked, unexpired tokens with ISO times, and its cursor', async () => {
    const gone = await mint('gone', ['api'], {expiresInSeconds: 3600})
    await issuer.revokeToken(gone.id)
    for (const token of [tokens.feeder!.token, tokens.star!.token]) {
      const response = await get(token)
      expect(response.status).toBe(200)
      const body = (await response.json()) as {cursor: number; revoked: Array<{jti: string; revokedAt: string; expiresAt: string | null}>}
      expect(body.cursor).toBeGreaterThan(0)
      const entry = body.revoked.find((revoked) => revoked.jti === gone.id)!
      expect(entry.revokedAt).toMatch(ISO)
      expect(entry.expiresAt).toMatch(ISO)
      expect(body.revoked.some((revoked) => revoked.jti === tokens.api!.id)).toBe(false)
    }
  })

  it('streams a snapshot, then one event per change with its cursor as id, and pings between', async () => {
    const stream = await openStream(url, tokens.feeder!.token)
    expect(stream.status).toBe(200)
    const [snapshot] = await stream.waitForEvents(1)
    expect(snapshot!.event).toBe('snapshot')
    const {cursor} = JSON.parse(snapshot!.data) as {cursor: number}
    expect(snapshot!.id).toBe(String(cursor))

    const target = await mint('target', ['api'])
    await issuer.revokeToken(target.id)
    const [, revoked] = await stream.waitForEvents(2)
    expect(revoked).toMatchObject({event: 'revoked', id: String(cursor + 1)})
    expect(JSON.parse(revoked!.data)).toEqual({jti: target.id, revokedAt: expect.stringMatching(ISO), expiresAt: null})
    expect(stream.text()).toContain(`id: ${cursor + 1}\nevent: revoked\ndata: {"jti":"${target.id}",`)

    await expect.poll(() => stream.comments.filter((comment) => comment === 'ping').length, {timeout: 2000}).toBeGreaterThanOrEqual(2)
    stream.close()
  })

  it('resumes from Last-Event-ID (or ?since=) with every change missed and no snapshot; a cursor it never reached gets a snapshot', async () => {
    const cursor = ((await (await get(tokens.feeder!.token)).json()) as {cursor: number}).cursor
    const missed = [await mint('missed-1', ['api']), await mint('missed-2', ['api'])]
    for (const token of missed) await issuer.revokeToken(token.id)

    for (const [headers, query] of [[{'last-event-id': String(cursor)}, ''], [{}, `?since=${cursor}`]] as const) {
      const stream = await openStream(url, tokens.feeder!.token, headers, query)
      const events = await stream.waitForEvents(2)
      expect(events.map((event) => event.event)).toEqual(['revoked', 'revoked'])
      expect(events.map((event) => JSON.parse(event.data).jti)).toEqual(missed.map((token) => token.id))
      expect(events.map((event) => event.id)).toEqual([String(cursor + 1), String(cursor + 2)])
      stream.close()
    }

    const ahead = await openStream(url, tokens.feeder!.token, {'last-event-id': String(cursor + 1_000_000)})
    const [snapshot] = await ahead.waitForEvents(1)
    expect(snapshot!.event).toBe('snapshot')
    expect(JSON.parse(snapshot!.data).cursor).toBe(cursor + 2)
    ahead.close()
  })

  it('ends the stream when its own bearer is revoked', async () => {
    const own = await mint('own-feeder', ['introspect'])
    const stream = await openStream(url, own.token)
    await stream.waitForEvents(1)
    await issuer.revokeToken(own.id)
    const ended = await fetch(`${url}/v1/revocations`, {headers: {authorization: `Bearer ${own.token}`}})
    expect(ended.status).toBe(401)
    await expect.poll(() => metricValue('cape_revocation_streams'), {timeout: 2000}).toBe(0)
  })

  it('survives the request timeout: a stream is not a slow request', async () => {
    const strict = await buildApp({...common, limits: {requestTimeoutMs: 300, headersTimeoutMs: 300}})
    const strictUrl = await strict.listen({host: '127.0.0.1', port: 0})
    try {
      const stream = await openStream(strictUrl, tokens.feeder!.token)
      await stream.waitForEvents(1)
      const pings = () => stream.comments.length
      await expect.poll(pings, {timeout: 3000, interval: 50}).toBeGreaterThanOrEqual(12)
      const target = await mint('late', ['api'])
      await issuer.revokeToken(target.id)
      await stream.waitForEvents(2)
      stream.close()
    } finally {
      await strict.close()
    }
  })

  it('opens at most half of --max-connections streams at once; the rest get 503 and requests still get through', async () => {
    const small = await buildApp({...common, limits: {maxConnections: 8}})
    const smallUrl = await small.listen({host: '127.0.0.1', port: 0})
    try {
      // Beyond 8 connections Node resets them; of the 8 it takes, 4 may stream.
      const attempts = await Promise.all(Array.from({length: 12}, () => openStream(smallUrl, tokens.feeder!.token).catch(() => undefined)))
      const streams = attempts.filter((stream) => stream !== undefined)
      expect(streams.filter((stream) => stream.status === 200)).toHaveLength(4)
      const refused = streams.filter((stream) => stream.status !== 200)
      expect(refused.length).toBeGreaterThan(0)
      for (const stream of refused) expect(stream).toMatchObject({status: 503, body: {error: 'too_many_streams'}})
      await expect.poll(async () => (await fetch(`${smallUrl}/healthz`).catch(() => undefined))?.status, {timeout: 6000}).toBe(200)

      for (const stream of streams) stream.close()
      await expect.poll(async () => metricValue('cape_revocation_streams', smallUrl), {timeout: 2000}).toBe(0)
      const again = await openStream(smallUrl, tokens.feeder!.token)
      expect(again.status).toBe(200)
      again.close()
    } finally {
      await small.close()
    }
  })

  it('drops a client that never reads, without holding up the others', async () => {
    // A snapshot larger than the socket buffers between them (MBs on loopback), so the server sees it back up.
    const db = new Database(join(dir.home, 'cape.db'))
    const kid = (await issuer.signingKeys())[0]!.kid
    const now = Date.now()
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
       INSERT INTO tokens (jti, subject, name, scopes, kid, created_at, expires_at, revoked_at)
       SELECT printf('bulk%018d', i), 'bulk', 'bulk', 'api', ?, ?, ?, ? FROM n`,
    ).run(kid, now, now + 3_600_000, now)
    db.close()
    const strict = await buildApp({...common, feed: {heartbeatMs: HEARTBEAT_MS, stallTimeoutMs: 2000}})
    const strictUrl = new URL(await strict.listen({host: '127.0.0.1', port: 0}))
    try {
      const socket = connect(Number(strictUrl.port), '127.0.0.1')
      socket.pause()
      socket.write(`GET /v1/revocations HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\nauthorization: Bearer ${tokens.feeder!.token}\r\n\r\n`)
      await expect.poll(() => metricValue('cape_revocation_streams', strictUrl.origin), {timeout: 2000}).toBe(1)

      const reader = await openStream(strictUrl.origin, tokens.feeder!.token)
      await reader.waitForEvents(1, 20_000)
      const target = await mint('while-stuck', ['api'])
      await issuer.revokeToken(target.id)
      await reader.waitForEvents(2)

      await expect.poll(() => metricValue('cape_revocation_streams', strictUrl.origin), {timeout: 8000, interval: 50}).toBe(1)
      reader.close()
      socket.destroy()
    } finally {
      await strict.close()
    }
  })

  async function metricValue(name: string, base = url): Promise<number> {
    const text = await (await fetch(`${base}/metrics`, {headers: {authorization: `Bearer ${tokens.metrics!.token}`}})).text()
    const line = text.split('\n').find((entry) => entry.startsWith(`${name} `))
    return Number(line?.split(' ')[1])
  }
})
