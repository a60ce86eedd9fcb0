import type {TypeBoxTypeProvider} from '@fastify/type-provider-typebox'
import Fastify, {type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions} from 'fastify'

import {checkSeconds, parseDuration} from '../core/duration.js'
import {peekClaims} from '../core/base64url-json.js'
import {CapeError} from '../core/errors.js'
import {HttpError, toHttpError} from '../core/http-error.js'
import {redactTokens} from '../core/token-shapes.js'
import {ActingIssuer, callerOf} from '../issuer/acting-issuer.js'
import {canReach, INTROSPECT_SCOPE, mayIntrospect} from '../issuer/authority.js'
import {checkReferrer} from '../issuer/referrer-pattern.js'
import {checkRequestAddress} from '../issuer/restrictions.js'
import {grantsScopes} from '../issuer/rules.js'
import type {IssuerClient, RequestContext, VerifyResult} from '../issuer/types.js'
import {authenticateHeader, insufficientScope, rateLimitHeaders, type Principal, type VerifyFunction} from '../verifier/bearer.js'
import {Metrics} from './metrics.js'
import {feedLimits, resumeCursor, RevocationStreams, snapshotBody, type FeedLimits} from './revocation-stream.js'
import * as schemas from './schemas.js'

/** A form or JSON body larger than this is not a token request. */
export const BODY_LIMIT_BYTES = 64 * 1024

/** How long clients may take, and how many may be connected at once; every one has a flag on `issuer serve`. */
export interface ServerLimits {
  /** The whole request, headers and body, in milliseconds: a slow body is cut off. */
  requestTimeoutMs: number
  /** The headers alone, in milliseconds (at most requestTimeoutMs). */
  headersTimeoutMs: number
  /** How long a kept-alive connection waits for its next request, in milliseconds. */
  keepAliveTimeoutMs: number
  /** A connection on which nothing moves for this long is closed, in milliseconds. */
  idleTimeoutMs: number
  /** Connections beyond this many are refused at once. */
  maxConnections: number
}

/**
 * The largest each limit may be: Node arms socket timers with 32-bit milliseconds, and a longer
 * timeout would silently become 1 ms.
 */
export const MAX_LIMITS: ServerLimits = {
  requestTimeoutMs: 86_400_000,
  headersTimeoutMs: 86_400_000,
  keepAliveTimeoutMs: 86_400_000,
  idleTimeoutMs: 86_400_000,
  maxConnections: 1_000_000,
}

export const DEFAULT_LIMITS: ServerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
  idleTimeoutMs: 60_000,
  maxConnections: 1024,
}

export interface AppOptions {
  issuer: IssuerClient
  /** The `iss` of the tokens: the RFC 8414 metadata's `issuer`. */
  issuerIdentifier: string
  /** The `aud` of the tokens, published as `cape_audience` so verifiers need not be told. */
  audience: readonly string[]
  /** The base URL clients reach this server at, for the metadata's endpoints; a function when known only once listening. */
  publicUrl: string | (() => string)
  /** pino options, or false for none. Tokens and Authorization headers are always redacted. */
  logger?: FastifyServerOptions['logger']
  /** The proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); none by default. */
  trustProxy?: string[] | undefined
  /** Epoch milliseconds, the issuer's clock; tests move it. */
  now?: () => number
  /** Timeouts and the connection limit; DEFAULT_LIMITS for whatever is left out. */
  limits?: {[Key in keyof ServerLimits]?: number | undefined} | undefined
  /** The revocation feed's heartbeat and limits; by default at most half of maxConnections are streams. */
  feed?: Partial<FeedLimits> | undefined
}

/** The HTTP face of the issuer, built but not listening: tests and `cape issuer serve` both use it. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const {issuer} = options
  const publicUrl = options.publicUrl
  const base = () => (typeof publicUrl === 'function' ? publicUrl() : publicUrl).replace(/\/+$/, '')
  const limits = withDefaults(options.limits)
  const revocations = issuer.revocationFeed?.()
  const streams = revocations && new RevocationStreams(revocations, feedLimits(limits.maxConnections, options.feed), options.now ?? Date.now)
  const metrics = new Metrics({revocationStreams: () => streams?.size ?? 0})
  const app = Fastify({
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    // Node reads these when it creates the server, and checks for overdue requests every
    // connectionsCheckingInterval (30 s by default, which would double a 30 s timeout).
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs),
    },
    logger: options.logger === undefined || options.logger === false ? false : redacted(options.logger),
    bodyLimit: BODY_LIMIT_BYTES,
    // Without it X-Forwarded-For is ignored: any client could claim any address.
    trustProxy: options.trustProxy?.length ? options.trustProxy : false,
    // Fastify's defaults quietly drop unknown fields and coerce types; a token request says what it means.
    ajv: {customOptions: {removeAdditional: false, coerceTypes: false}},
    // The JSON in tokens is never a prototype for anything.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A URL the router cannot read (bad escapes, a parameter too long): Fastify's own message
    // would repeat the URL, token and all.
    frameworkErrors: (error, request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
      const answer = new HttpError(status, 'invalid_request', `cannot read the request for ${loggablePath(request.url)}`)
      void (reply as FastifyReply).status(answer.statusCode).send(answer.body())
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // RFC 7662 and RFC 7009 requests are form-encoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', {parseAs: 'string'}, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  app.setErrorHandler((error, request, reply) => {
    const httpError = toHttpError(error)
    if (httpError.statusCode >= 500) request.log.error({err: error}, 'request failed')
    void reply.status(httpError.statusCode).headers(httpError.headers).send(httpError.body())
  })
  app.server.maxConnections = limits.maxConnections
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({error: 'not_found', message: `no route ${request.method} ${loggablePath(request.url)}`})
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.countRequest(request.method, request.routeOptions.url ?? 'unknown', reply.statusCode)
  })

  const verify: VerifyFunction = (token, verifyOptions) => issuer.verifyToken(token, verifyOptions)
  const countResult = (result: VerifyResult) => metrics.countVerification(result.valid ? 'valid' : result.reason)
  const principal = async (request: FastifyRequest, reply: FastifyReply, scope: string | undefined) => {
    const caller = await authenticateHeader(request.headers.authorization, verify, {scope, request: requestContext(request)}, countResult)
    if (caller.rateLimit) void reply.headers(rateLimitHeaders(caller.rateLimit))
    return caller
  }
  // Every token route acts through the bearer's token, and so within its authority.
  const actingAs = (caller: Principal) => new ActingIssuer(issuer, callerOf(caller), options.now)

  app.get('/healthz', {schema: {response: {200: schemas.health}}}, async () => ({status: 'ok'}))

  app.get('/.well-known/jwks.json', {schema: {response: {200: schemas.jwks}}}, async (_request, reply) => {
    void reply.header('cache-control', 'public, max-age=300')
    return issuer.jwks()
  })

  app.get('/.well-known/oauth-authorization-server', {schema: {response: {200: schemas.metadata}}}, async () => ({
    issuer: options.issuerIdentifier,
    jwks_uri: `${base()}/.well-known/jwks.json`,
    introspection_endpoint: `${base()}/v1/introspect`,
    revocation_endpoint: `${base()}/v1/revoke`,
    scopes_supported: ['*', 'tokens', 'api', INTROSPECT_SCOPE, 'metrics'],
    response_types_supported: [],
    grant_types_supported: [],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    revocation_endpoint_auth_methods_supported: ['bearer'],
    cape_audience: options.audience,
  }))

  // Any valid token may ask who it is: remote clients check their own credential here.
  app.get('/v1/whoami', {schema: {response: {200: schemas.whoami}}}, async (request, reply) => {
    const caller = await principal(request, reply, undefined)
    const {subject, id, name, scopes, expiresAt, account, claims} = caller
    return {subject, id, name, scopes, expiresAt, account, claims}
  })

  app.get('/v1/tokens', {schema: {querystring: schemas.listQuery, response: {200: schemas.tokenList}}}, async (request, reply) => {
    const caller = await principal(request, reply, 'tokens')
    return actingAs(caller).listTokens({includeRevoked: request.query.all === 'true'})
  })

  // EmailEngine's rule: tokens minted over HTTP name an account and never outrank their creator.
  app.post('/v1/tokens', {schema: {body: schemas.createTokenBody, response: {201: schemas.createdToken}}}, async (request, reply) => {
    const caller = await principal(request, reply, 'tokens')
    const {body} = request
    const created = await actingAs(caller).createToken({
      name: body.name,
      description: body.description,
      scopes: body.scopes,
      expiresInSeconds: seconds(body.expiresIn),
      account: body.account,
      restrictions: body.restrictions,
    })
    return reply.status(201).send(created)
  })

  const rotate = {params: schemas.tokenParams, body: schemas.rotateBody, response: {201: schemas.rotatedToken}}
  app.post('/v1/tokens/:id/rotate', {schema: rotate}, async (request, reply) => {
    const caller = await principal(request, reply, 'tokens')
    const grace = request.body?.grace
    return reply.status(201).send(await actingAs(caller).rotateToken(request.params.id, {graceSeconds: seconds(grace)}))
  })

  app.get('/v1/tokens/:id/trail', {schema: {params: schemas.tokenParams, response: {200: schemas.trail}}}, async (request, reply) => {
    const caller = await principal(request, reply, 'tokens')
    return actingAs(caller).tokenTrail(request.params.id)
  })

  app.get('/v1/tokens/:id', {schema: {params: schemas.tokenParams, response: {200: schemas.token}}}, async (request, reply) => {
    const caller = await principal(request, reply, 'tokens')
    return actingAs(caller).getToken(request.params.id)
  })

  // A token may always revoke itself (cape logout --revoke); revoking any other needs scope `tokens`.
  // ?cascade=true revokes every token minted through it as well; without it, they live on.
  const revoke = {params: schemas.tokenParams, querystring: schemas.revokeQuery, response: {200: schemas.revokedToken}}
  app.delete('/v1/tokens/:id', {schema: revoke}, async (request, reply) => {
    const {id} = request.params
    const caller = await principal(request, reply, undefined)
    if (id !== caller.id && !grantsScopes(caller.scopes, ['tokens'])) throw insufficientScope('tokens')
    return actingAs(caller).revokeToken(id, {cascade: request.query.cascade === 'true'})
  })

  // RFC 7662: any invalid token is just {"active": false}; no reason is given away. A resource
  // server may pass its client's `ip` and `referrer` (cape's extension) to have restrictions and
  // rate limits enforced as if the request had come here.
  // Another subject's token is introspected only with scope `introspect`, and another account's
  // never by a caller bound to one: to such a caller it is just inactive, and its use is not counted.
  app.post('/v1/introspect', {schema: {response: {200: schemas.introspection}}}, async (request, reply) => {
    const caller = callerOf(await principal(request, reply, undefined))
    if (!grantsScopes(caller.scopes, ['api']) && !grantsScopes(caller.scopes, [INTROSPECT_SCOPE])) throw insufficientScope('api')
    const token = formToken(request.body)
    const claimed = peekClaims(token)
    if (!mayIntrospect(caller, {subject: claimed?.sub, account: claimed?.account})) return {active: false}
    const {ip, referrer} = requestFields(request.body)
    const result = await issuer.verifyToken(token, ip === undefined && referrer === undefined ? {} : {request: {ip, referrer: referrer ?? null}})
    metrics.countVerification(result.valid ? 'valid' : result.reason)
    if (!result.valid) return {active: false}
    const {claims} = result
    return {
      active: true,
      token_type: 'Bearer',
      scope: result.scopes.join(' '),
      sub: claims.sub,
      iss: claims.iss,
      aud: typeof claims.aud === 'string' ? [claims.aud] : claims.aud,
      jti: claims.jti,
      iat: claims.iat,
      nbf: claims.nbf,
      exp: claims.exp,
      username: result.name,
      account: result.account ?? undefined,
    }
  })

  // RFC 7009: 200 whether or not the token was valid; the caller revokes only the tokens within
  // its reach (its subject's, its account's). Any other is answered as an invalid one is, so the
  // answer tells nothing of another's token. Revoking is not a use: nothing is counted or triggered.
  app.post('/v1/revoke', async (request, reply) => {
    const caller = callerOf(await principal(request, reply, 'api'))
    const token = formToken(request.body)
    const result = await issuer.verifyToken(token, {purpose: 'check'})
    if (result.valid && canReach(caller, result)) {

      await issuer.revokeToken(result.id).catch((error: unknown) => {
        if ((error as {code?: string}).code !== 'token_already_revoked') throw error
      })
    }

    return reply.status(200).send()
  })

  // A resource server's own copy of the revocations: a snapshot, then (as server-sent events) each
  // change as the issuer learns of it. It covers every subject and account, hence scope
  // `introspect` and no account binding.
  const feed = {querystring: schemas.revocationsQuery, response: {200: schemas.revocationSnapshot}}
  app.get('/v1/revocations', {schema: feed}, async (request, reply) => {
    const caller = callerOf(await principal(request, reply, INTROSPECT_SCOPE))
    if (caller.account !== null) {
      throw new CapeError('authority_exceeded', 'the revocation feed covers every account: a token bound to one cannot follow it', {reason: 'account'})
    }

    if (!revocations || !streams) throw new HttpError(404, 'not_found', 'this issuer has no revocation feed')
    const lastEventId = request.headers['last-event-id']
    const since = resumeCursor(typeof lastEventId === 'string' ? lastEventId : undefined, request.query.since)
    if (!(request.headers.accept ?? '').includes('text/event-stream')) return snapshotBody(await revocations.snapshot())
    await streams.open(reply, caller, since)
    return reply
  })
  app.addHook('preClose', async () => streams?.closeAll())

  app.get('/metrics', async (request, reply) => {
    await principal(request, reply, 'metrics')
    return reply.type('text/plain; version=0.0.4').send(metrics.render())
  })

  return app
}

/** The client's address (from X-Forwarded-For only behind a proxy named by --trust-proxy) and its Referer. */
function requestContext(request: FastifyRequest): RequestContext {
  return {ip: request.ip, referrer: request.headers.referer ?? null}
}

/** A lifetime given in seconds or as a duration such as "30d". */
function seconds(value: number | string | undefined): number | undefined {
  return typeof value === 'string' ? parseDuration(value) : value === undefined ? undefined : checkSeconds('a duration in seconds', value)
}

function withDefaults(given: AppOptions['limits']): ServerLimits {
  const limits = {...DEFAULT_LIMITS}
  for (const key of Object.keys(limits) as Array<keyof ServerLimits>) {
    const value = given?.[key] ?? limits[key]
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMITS[key]) {
      throw new CapeError('invalid_argument', `the server's ${key} must be a whole number from 1 to ${MAX_LIMITS[key]}`)
    }

    limits[key] = value
  }

  return limits
}

/** cape's `ip` and `referrer` introspection fields, checked before they are used, counted or stored. */
function requestFields(body: unknown): {ip?: string; referrer?: string} {
  const {ip, referrer} = body as {ip?: unknown; referrer?: unknown}
  const check = (value: unknown, what: string, checker: (text: string, what: string) => string) => {
    if (value === undefined) return undefined
    if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `"${what}" must be a string`)
    return checker(value, `"${what}"`)
  }

  return {ip: check(ip, 'ip', checkRequestAddress), referrer: check(referrer, 'referrer', checkReferrer)}
}

/** A path as it may be logged or echoed: no query string, and a token in it hidden. */
function loggablePath(url: string): string {
  const path = url.split('?')[0]!
  return redactTokens(path.length > 512 ? `${path.slice(0, 512)}…` : path, () => '[token]')
}

function formToken(body: unknown): string {
  const token = (body as {token?: unknown} | undefined)?.token
  if (typeof token !== 'string' || token.length === 0) {
    throw new HttpError(400, 'invalid_request', 'the form needs a "token" parameter (application/x-www-form-urlencoded)')
  }

  return token
}

function redacted(logger: NonNullable<FastifyServerOptions['logger']>): FastifyServerOptions['logger'] {
  const base = typeof logger === 'object' ? logger : {}
  return {
    ...base,
    redact: {paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body', 'token', '*.token'], censor: '[redacted]'},
    serializers: {
      // No query string: a token pasted into a URL must not reach the log either.
      // The route's pattern where one matched; otherwise the path with any token in it hidden.
      req: (request: {method: string; url: string; ip?: string; routeOptions?: {url?: string}}) => ({
        method: request.method,
        url: request.routeOptions?.url ?? loggablePath(request.url),
        remoteAddress: request.ip,
      }),
    },
  }
}
