import {createServer, connect, type Server, type Socket} from 'node:net'
import {performance} from 'node:perf_hooks'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, tempHome} from '../helpers/cli.js'
import {createTestDatabase, postgresSkipReason, type TestDatabase} from '../helpers/postgres.js'
import {startServe, type ServeProcess} from '../helpers/serve.js'

// README's bound for a revocation made on one instance to be refused by the others.
const BOUND_MS = 1000
// And the bound after which an instance that cannot hear the database refuses to verify.
const STALE_AFTER_MS = 5000

/**
 * Two `cape issuer serve` processes, each with a CAPE_HOME (and so a signing key) of its own, on
 * one PostgreSQL database reached through a TCP relay the test can cut: a real network outage
 * for one instance, while the database and the other instance carry on.
 */
describe.skipIf(postgresSkipReason !== undefined)('two instances on one PostgreSQL database', {timeout: 60_000}, () => {
  const homes = [tempHome(), tempHome()]
  let database: TestDatabase
  let relay: Relay
  let a: ServeProcess
  let b: ServeProcess
  let admin = ''

  beforeAll(async () => {
    database = await createTestDatabase()
    relay = await startRelay(new URL(database.url))
    const throughRelay = new URL(database.url)
    throughRelay.host = `127.0.0.1:${relay.port}`
    admin = await create(homes[0]!.home, database.url, ['--name', 'admin', '--scope', '*'])
    a = await startServe(homes[0]!.home, [], {CAPE_DATABASE_URL: database.url})
    b = await startServe(homes[1]!.home, [], {CAPE_DATABASE_URL: throughRelay.toString()})
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    relay?.close()
    await database?.drop()
    for (const home of homes) home.cleanup()
  })

  const call = async (server: ServeProcess, path: string, init: {method?: string; bearer?: string; json?: unknown} = {}) => {
    const headers: Record<string, string> = {}
    if (init.bearer) headers.authorization = `Bearer ${init.bearer}`
    if (init.json !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${server.url}${path}`, {method: init.method ?? 'GET', headers, body: init.json === undefined ? undefined : JSON.stringify(init.json)})
    return {status: response.status, body: (await response.json()) as any}
  }

  const whoami = async (server: ServeProcess, token: string) => (await call(server, '/v1/whoami', {bearer: token})).status

  it('share tokens: minted on A works on B; revoked on A, refused on B within the bound', async () => {
    const minted = await call(a, '/v1/tokens', {method: 'POST', bearer: admin, json: {name: 'ci', account: 'acme', scopes: ['api']}})
    expect(minted.status).toBe(201)
    // B learns A's key within its key check (a second), then holds the token's state in memory.
    await expect.poll(() => whoami(b, minted.body.token), {timeout: 3000, interval: 50}).toBe(200)
    expect(await whoami(b, minted.body.token)).toBe(200)

    expect((await call(a, `/v1/tokens/${minted.body.id}`, {method: 'DELETE', bearer: admin})).status).toBe(200)
    const started = performance.now()
    await expect.poll(() => whoami(b, minted.body.token), {timeout: BOUND_MS, interval: 5}).toBe(401)
    expect(performance.now() - started).toBeLessThan(BOUND_MS)
  })

  it('share a rate limit exactly: L accepted across both, the rest 429', async () => {
    const limited = await call(a, '/v1/tokens', {method: 'POST', bearer: admin, json: {name: 'limited', account: 'acme', restrictions: {rateLimit: {maxRequests: 6, timeWindow: 86_400}}}})
    expect(limited.status).toBe(201)
    await expect.poll(() => whoami(b, admin), {timeout: 3000, interval: 50}).toBe(200)
    const statuses = []
    for (let use = 0; use < 10; use++) statuses.push(await whoami(use % 2 ? a : b, limited.body.token))
    expect(statuses.filter((status) => status === 200)).toHaveLength(6)
    expect(statuses.slice(6)).toEqual([429, 429, 429, 429])
  })

  it('serve every instance’s keys: a key rotated on A is in B’s JWKS', async () => {
    const rotated = await runCli(['issuer', 'keys', 'rotate', '--json'], {home: homes[0]!.home, env: {CAPE_DATABASE_URL: database.url}})
    expect(rotated.code).toBe(0)
    const {kid} = JSON.parse(rotated.stdout) as {kid: string}
    await expect.poll(async () => (await call(b, '/.well-known/jwks.json')).body.keys.map((key: {kid: string}) => key.kid), {timeout: 5000, interval: 50}).toContain(kid)
  })

  it('an instance cut from the database fails closed within the bound, and catches up when it returns', async () => {
    const token = (await call(a, '/v1/tokens', {method: 'POST', bearer: admin, json: {name: 'outage', account: 'acme'}})).body
    await expect.poll(() => whoami(b, token.token), {timeout: 3000, interval: 50}).toBe(200)

    relay.cut()
    const cutAt = performance.now()
    // Revoked while B cannot hear of it.
    expect((await call(a, `/v1/tokens/${token.id}`, {method: 'DELETE', bearer: admin})).status).toBe(200)
    // Until the bound B may still answer from memory (or 503 when a read of its own fails);
    // past it, nothing: every answer is a 503.
    const early = new Set<number>()
    while (performance.now() - cutAt < STALE_AFTER_MS + 250) {
      early.add(await whoami(b, token.token))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }

    expect([...early].filter((status) => status !== 200 && status !== 503)).toEqual([])
    for (const bearer of [token.token, admin]) {
      expect(await call(b, '/v1/whoami', {bearer})).toMatchObject({status: 503, body: {error: 'issuer_unavailable'}})
    }
    // A, which can hear the database, answers as before.
    expect(await whoami(a, token.token)).toBe(401)

    relay.restore()
    const lastLines = () => b.output().stdout.trim().split('\n').slice(-3).join('\n')
    await expect
      .poll(() => whoami(b, token.token), {timeout: 30_000, interval: 100})
      .toBe(401)
      .catch((error: Error) => {
        throw new Error(`${error.message}; B's last log lines: ${lastLines()}; stderr: ${b.output().stderr.slice(-500)}`)
      })
    expect(await whoami(b, admin)).toBe(200)
  })
})

async function create(home: string, databaseUrl: string, args: string[]): Promise<string> {
  const created = await runCli(['token', 'create', '--json', ...args], {home, env: {CAPE_DATABASE_URL: databaseUrl}})
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`)
  return (JSON.parse(created.stdout) as {token: string}).token
}

interface Relay {
  port: number
  /** Drops every connection and refuses new ones: the database is gone, as far as its clients know. */
  cut(): void
  restore(): void
  close(): void
}

/** A TCP relay to the database that the test can cut and restore. */
async function startRelay(target: URL): Promise<Relay> {
  const sockets = new Set<Socket>()
  let cut = false
  const server: Server = createServer((client) => {
    if (cut) return void client.destroy()
    const upstream = connect(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
    }

    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as {port: number}).port,
    cut: () => {
      cut = true
      for (const socket of sockets) socket.destroy()
    },
    restore: () => {
      cut = false
    },
    close: () => {
      for (const socket of sockets) socket.destroy()
      server.close()
    },
  }
}
