import {PACKAGE_BIN, Wording} from './wording.js'

/**
 * Every failure a user can act on is a CapeError with a stable `code`. Callers switch on the
 * code, never on the message; the CLI maps the code's exit status through EXIT_CODES.
 */
export const EXIT_CODES = {
  ok: 0,
  /** The operation was refused: an invalid token, an unknown or already revoked id. */
  failure: 1,
  /** The command line was wrong: a missing or malformed flag or argument. */
  usage: 2,
  /** State is unusable: CAPE_HOME, the database, a key file, the OS keychain, or a remote issuer out of reach. */
  environment: 3,
  /** No credential: nothing passed, nothing in the environment, nothing stored (not logged in). */
  noCredential: 4,
  /** Interrupted at a prompt (Ctrl-C), as a shell reports SIGINT. */
  interrupted: 130,
  /** A bug in cape (EX_SOFTWARE). */
  internal: 70,
} as const

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES]

/**
 * Every code with its exit status at the command line and, where a client of the HTTP API can
 * meet it, its HTTP status. The one table: the CLI, the server and the remote client all read it.
 * A code with no HTTP status is a 500 over HTTP (a failure the client cannot act on).
 */
const ERRORS = {
  invalid_argument: {exit: EXIT_CODES.usage, http: 400},
  invalid_duration: {exit: EXIT_CODES.usage, http: 400},
  invalid_scope: {exit: EXIT_CODES.usage, http: 400},
  input_too_large: {exit: EXIT_CODES.usage, http: 413},
  missing_input: {exit: EXIT_CODES.usage, http: 400},
  invalid_profile: {exit: EXIT_CODES.usage},
  invalid_bundle: {exit: EXIT_CODES.usage, http: 400},
  invalid_issuer_url: {exit: EXIT_CODES.usage},
  invalid_token: {exit: EXIT_CODES.failure, http: 401},
  scope_not_allowed: {exit: EXIT_CODES.failure, http: 403},
  authority_exceeded: {exit: EXIT_CODES.failure, http: 403},
  insufficient_scope: {exit: EXIT_CODES.failure, http: 403},
  access_denied: {exit: EXIT_CODES.failure, http: 403},
  token_inactive: {exit: EXIT_CODES.failure, http: 409},
  token_conflict: {exit: EXIT_CODES.failure, http: 409},
  key_not_found: {exit: EXIT_CODES.failure},
  key_active: {exit: EXIT_CODES.failure},
  token_not_found: {exit: EXIT_CODES.failure, http: 404},
  token_already_revoked: {exit: EXIT_CODES.failure, http: 409},
  issuer_already_initialized: {exit: EXIT_CODES.failure},
  home_unavailable: {exit: EXIT_CODES.environment},
  store_unavailable: {exit: EXIT_CODES.environment},
  store_insecure: {exit: EXIT_CODES.environment},
  store_corrupt: {exit: EXIT_CODES.environment},
  store_too_new: {exit: EXIT_CODES.environment},
  store_busy: {exit: EXIT_CODES.environment, http: 503},
  key_unavailable: {exit: EXIT_CODES.environment},
  keychain_unavailable: {exit: EXIT_CODES.environment},
  credentials_unavailable: {exit: EXIT_CODES.environment},
  config_invalid: {exit: EXIT_CODES.environment},
  issuer_unavailable: {exit: EXIT_CODES.environment, http: 503},
  not_logged_in: {exit: EXIT_CODES.noCredential},
  cancelled: {exit: EXIT_CODES.interrupted},
  internal: {exit: EXIT_CODES.internal},
} as const satisfies Record<string, {exit: ExitCode; http?: number}>

export type ErrorCode = keyof typeof ERRORS

export class CapeError extends Error {
  override readonly name = 'CapeError'
  readonly code: ErrorCode
  readonly exitCode: ExitCode
  /** For a refused token: the verification reason code, so scripts need not parse the message. */
  readonly reason: string | undefined
  /**
   * The message with the commands it names kept apart, for the CLI to word under its own binary.
   * `message` names the package's own (`cape`), the one a library or HTTP caller would install.
   */
  readonly wording: Wording

  constructor(code: ErrorCode, message: string | Wording, options?: {cause?: unknown; reason?: string}) {
    const wording = Wording.of(message)
    super(wording.for(PACKAGE_BIN), options)
    this.wording = wording
    this.code = code
    this.exitCode = ERRORS[code].exit
    this.reason = options?.reason
  }
}

export function isCapeError(error: unknown): error is CapeError {
  return error instanceof CapeError
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value)
}

/** The HTTP status of a code a client can act on; undefined for the rest (a 500). */
export function httpStatusOf(code: ErrorCode): number | undefined {
  const entry = ERRORS[code]
  return 'http' in entry ? entry.http : undefined
}
