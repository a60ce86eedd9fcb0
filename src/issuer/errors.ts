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

const CODE_EXIT = {
  invalid_argument: EXIT_CODES.usage,
  invalid_duration: EXIT_CODES.usage,
  invalid_scope: EXIT_CODES.usage,
  input_too_large: EXIT_CODES.usage,
  missing_input: EXIT_CODES.usage,
  invalid_profile: EXIT_CODES.usage,
  invalid_bundle: EXIT_CODES.usage,
  invalid_issuer_url: EXIT_CODES.usage,
  invalid_token: EXIT_CODES.failure,
  scope_not_allowed: EXIT_CODES.failure,
  authority_exceeded: EXIT_CODES.failure,
  insufficient_scope: EXIT_CODES.failure,
  access_denied: EXIT_CODES.failure,
  token_inactive: EXIT_CODES.failure,
  token_conflict: EXIT_CODES.failure,
  key_not_found: EXIT_CODES.failure,
  key_active: EXIT_CODES.failure,
  token_not_found: EXIT_CODES.failure,
  token_already_revoked: EXIT_CODES.failure,
  issuer_already_initialized: EXIT_CODES.failure,
  home_unavailable: EXIT_CODES.environment,
  store_unavailable: EXIT_CODES.environment,
  store_insecure: EXIT_CODES.environment,
  store_corrupt: EXIT_CODES.environment,
  store_too_new: EXIT_CODES.environment,
  store_busy: EXIT_CODES.environment,
  key_unavailable: EXIT_CODES.environment,
  keychain_unavailable: EXIT_CODES.environment,
  credentials_unavailable: EXIT_CODES.environment,
  config_invalid: EXIT_CODES.environment,
  issuer_unavailable: EXIT_CODES.environment,
  not_logged_in: EXIT_CODES.noCredential,
  cancelled: EXIT_CODES.interrupted,
  internal: EXIT_CODES.internal,
} as const satisfies Record<string, ExitCode>

export type ErrorCode = keyof typeof CODE_EXIT

export class CapeError extends Error {
  override readonly name = 'CapeError'
  readonly code: ErrorCode
  readonly exitCode: ExitCode
  /** For a refused token: the verification reason code, so scripts need not parse the message. */
  readonly reason: string | undefined

  constructor(code: ErrorCode, message: string, options?: {cause?: unknown; reason?: string}) {
    super(message, options)
    this.code = code
    this.exitCode = CODE_EXIT[code]
    this.reason = options?.reason
  }
}

export function isCapeError(error: unknown): error is CapeError {
  return error instanceof CapeError
}
