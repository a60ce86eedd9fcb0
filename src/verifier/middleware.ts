import type {IncomingMessage, ServerResponse} from 'node:http'

import type {FastifyInstance, FastifyPluginCallback, FastifyRequest} from 'fastify'

import type {RequestContext} from '../core/token.js'
import {authenticateHeader, rateLimitHeaders, type Principal} from './bearer.js'
import {toHttpError} from '../core/http-error.js'
import type {Verifier} from './remote-verifier.js'

export type {Principal}

export interface GuardOptions<Request> {
  verifier: Verifier
  /** The scope every request must carry (`*` grants all); none: any valid token. */
  scope?: string
  /** The account a request acts on, e.g. from its URL: a token bound to another is refused (403). */
  account?: (request: Request) => string | undefined
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, set by the cape plugin. */
    cape: Principal | null
  }
}

/**
 * Fastify plugin: every route registered in the same scope needs a valid bearer token, and gets
 * the caller as `request.cape`. Refusals are RFC 6750 answers, as cape's own server gives.
 */
export const capeFastify: FastifyPluginCallback<GuardOptions<FastifyRequest>> = (
  app: FastifyInstance,
  options,
  done,
) => {
  app.decorateRequest('cape', null)
  app.addHook('onRequest', async (request, reply) => {
    try {
      request.cape = await guard(options, request.headers.authorization, request, {ip: request.ip, referrer: request.headers.referer ?? null})
      if (request.cape.rateLimit) void reply.headers(rateLimitHeaders(request.cape.rateLimit))
    } catch (error) {
      const refusal = toHttpError(error)
      return reply.status(refusal.statusCode).headers(refusal.headers).send(refusal.body())
    }
  })
  done()
}

// What fastify-plugin does: the hook reaches the routes of the app that registers the plugin.
Object.assign(capeFastify, {[Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cape'})

/** Connect/Express-style middleware: `req.cape` is the verified caller, or the request is answered with 401/403. */
export function capeMiddleware<Request extends IncomingMessage>(options: GuardOptions<Request>) {
  return (request: Request & {cape?: Principal}, response: ServerResponse, next: (error?: unknown) => void): void => {
    const context = {ip: request.socket.remoteAddress, referrer: request.headers.referer ?? null}
    guard(options, request.headers.authorization, request, context).then(
      (principal) => {
        request.cape = principal
        if (principal.rateLimit) {
          for (const [name, value] of Object.entries(rateLimitHeaders(principal.rateLimit))) response.setHeader(name, value)
        }

        next()
      },
      (error: unknown) => {
        const refusal = toHttpError(error)
        response.writeHead(refusal.statusCode, {...refusal.headers, 'content-type': 'application/json; charset=utf-8'})
        response.end(JSON.stringify(refusal.body()))
      },
    )
  }
}

function guard<Request>(
  options: GuardOptions<Request>,
  header: string | undefined,
  request: Request,
  context: RequestContext,
): Promise<Principal> {
  return authenticateHeader(header, (token, verifyOptions) => options.verifier.verify(token, verifyOptions), {
    scope: options.scope,
    account: options.account?.(request),
    request: context,
  })
}
