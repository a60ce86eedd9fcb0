// The servers that bench/http.js loads, in a process of their own, all on 127.0.0.1 with
// ephemeral ports:
//   hello         bare Fastify, GET /hello -> {"hello":"world"} (the baseline), and POST /form,
//                 which parses an introspection's form and reads its header (introspection's baseline)
//   cape          cape's own server (buildApp over a LocalIssuer in HOME)
//   jwks          Fastify + capeFastify, createVerifier({issuerUrl: cape, audience}) (JWKS only)
//   introspection the same, createVerifier({..., introspectionToken}): every request asks cape
//   feed          the same, createVerifier({..., feed: true}): revocations from cape's feed, in memory
// Once all listen it prints one line of JSON on stdout: {urls, tokens}. The tokens are throwaway,
// minted in HOME (a temp dir of the benchmark's): `api` (scope api) is the introspection
// caller's, `client` (scope api) is the bearer of the protected routes and the token introspected.
//
// Usage: node bench/http-servers.js [HOME] [MAX_SECONDS]
// Without HOME it uses a temp dir of its own and removes it on exit. It stops, closing every
// server and the issuer, on SIGTERM or SIGINT, when its parent's IPC channel closes (so a parent
// that dies, however, takes it along), or after MAX_SECONDS (default 300) whatever happens.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Fastify from 'fastify'

import {LocalIssuer} from '../dist/issuer/local-issuer.js'
import {buildApp} from '../dist/server/app.js'
import {capeFastify} from '../dist/verifier/middleware.js'
import {createVerifier} from '../dist/verifier/remote-verifier.js'

const HOST = '127.0.0.1'
const AUDIENCE = 'cape-api'

const ownHome = process.argv[2] === undefined
const home = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'cape-http-bench-'))
const maxSeconds = Number(process.argv[3] ?? 300)
if (!Number.isFinite(maxSeconds) || maxSeconds <= 0) {
  console.error(`http-servers: MAX_SECONDS must be a positive number, not ${process.argv[3]}`)
  process.exit(2)
}

const apps = []
let issuer
let stopping

function stop(code, why) {
  if (why) console.error(`http-servers: ${why}, stopping`)
  stopping ??= (async () => {
    // Closing never takes long on loopback; if it somehow does, exit anyway.
    setTimeout(() => process.exit(code || 1), 5000).unref()
    await Promise.allSettled(apps.map((app) => app.close()))
    await issuer?.close().catch((error) => console.error('http-servers: closing the issuer:', error))
    if (ownHome) rmSync(home, {recursive: true, force: true})
    process.exit(code)
  })()
  return stopping
}

process.once('SIGTERM', () => stop(0))
process.once('SIGINT', () => stop(0))
process.once('disconnect', () => stop(0))
setTimeout(() => stop(1, `still running after ${maxSeconds} s`), maxSeconds * 1000).unref()

// The parent asks for CPU time around each run, to see which side was saturated.
process.on('message', (message) => {
  if (message?.type === 'cpu') process.send?.({type: 'cpu', usage: process.cpuUsage()})
})

async function listen(app) {
  apps.push(app)
  return app.listen({host: HOST, port: 0})
}

/** A service of someone else's: GET /hello behind cape's Fastify plugin, scope api. */
async function protectedApp(verifier) {
  const app = Fastify({logger: false})
  await app.register(capeFastify, {verifier, scope: 'api'})
  app.get('/hello', async (request) => {
    if (!request.cape) throw new Error('capeFastify let a request through without a caller')
    return {hello: 'world'}
  })
  return app
}

try {
  issuer = await LocalIssuer.open({home})
  const api = (await issuer.createToken({name: 'bench-http-introspector', scopes: ['api'], subject: 'bench'})).token
  const client = (await issuer.createToken({name: 'bench-http-client', scopes: ['api'], subject: 'bench'})).token
  const follower = (await issuer.createToken({name: 'bench-http-feed', scopes: ['introspect'], subject: 'bench'})).token
  const settings = await issuer.settings()

  let capeUrl
  const cape = await buildApp({issuer, issuerIdentifier: settings.issuer, audience: settings.audience, publicUrl: () => capeUrl, logger: false})
  capeUrl = await listen(cape)

  const hello = Fastify({logger: false})
  hello.get('/hello', async () => ({hello: 'world'}))
  // The baseline of introspection: the same form parsed and the same header read, and nothing checked.
  hello.addContentTypeParser('application/x-www-form-urlencoded', {parseAs: 'string'}, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body)))
  })
  hello.post('/form', async (request) => ({active: typeof request.body?.token === 'string' && request.headers.authorization !== undefined}))

  const jwks = await protectedApp(await createVerifier({issuerUrl: capeUrl, audience: AUDIENCE}))
  const introspection = await protectedApp(
    await createVerifier({issuerUrl: capeUrl, audience: AUDIENCE, introspectionToken: api}),
  )

  const feed = await protectedApp(await createVerifier({issuerUrl: capeUrl, audience: AUDIENCE, introspectionToken: follower, feed: true}))

  const urls = {
    hello: await listen(hello),
    cape: capeUrl,
    jwks: await listen(jwks),
    introspection: await listen(introspection),
    feed: await listen(feed),
  }
  process.stdout.write(`${JSON.stringify({urls, tokens: {api, client}})}\n`)
} catch (error) {
  console.error('http-servers: could not start:', error)
  await stop(1)
}
