import {httpStatusOf, isCapeError} from './errors.js'

/** An error a client may see: status, a stable `error` code and a safe message. Never a stack. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** For a refused bearer token: its verification reason, which its own holder may know. */
    readonly reason?: string,
  ) {
    super(message)
  }

  /** The JSON body a client sees. */
  body(): {error: string; message: string; reason?: string} {
    return this.reason === undefined
      ? {error: this.code, message: this.message}
      : {error: this.code, message: this.message, reason: this.reason}
  }
}

/** The body and status for anything thrown in a route. Internals become a bare 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (isCapeError(error)) {
    const status = httpStatusOf(error.code)
    if (status === undefined) return new HttpError(500, 'internal', 'the issuer could not complete the request')
    // A 5xx message would name paths and hosts behind the server: the client gets the code only.
    if (status >= 500) return new HttpError(status, error.code, 'the service is briefly unable to check tokens; try again')
    return new HttpError(status, error.code, error.message, {}, error.reason)
  }

  // Fastify's own errors (bad JSON, body too large, unsupported media type) carry a 4xx status.
  const status = (error as {statusCode?: unknown}).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : 'bad request'
    return new HttpError(status, status === 413 ? 'input_too_large' : 'invalid_request', message)
  }

  return new HttpError(500, 'internal', 'the issuer could not complete the request')
}
