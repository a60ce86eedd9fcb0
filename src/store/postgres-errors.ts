import {CapeError} from '../core/errors.js'

/**
 * PostgreSQL's failures as the one-line errors a user can act on. The database is named by
 * host, port and name only: a URL may carry a password, which never reaches a message.
 */

/** `host:port/database` of a postgres:// URL, without user or password; undefined when it is no URL. */
export function describeDatabaseUrl(url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }

  const database = decodeURIComponent(parsed.pathname.slice(1))
  return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${database}`
}

/** Node's socket errors and the driver's own, for a database out of reach. */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'timed out',
  CONNECT_TIMEOUT: 'timed out connecting',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  CONNECTION_CLOSED: 'the connection was closed',
  CONNECTION_DESTROYED: 'the connection was closed',
  CONNECTION_ENDED: 'the connection was ended',
}

/** SQLSTATEs of a server that is there but will not serve now: as good as out of reach. */
const SERVER_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300'])
/** A transaction the server gave up on to let another through: run again, it will pass. */
const RETRYABLE = new Set(['40001', '40P01'])
/** Contention: a lock not had within lock_timeout, a statement cancelled. */
const BUSY = new Set([...RETRYABLE, '55P03', '57014'])
/**
 * The database answered, and said no, for a reason the user can fix: the password, a right, no
 * such database, the disk full. Other errors (a broken statement of ours) stay as they are.
 */
const REFUSED_CLASSES = new Set(['28', '3D', '53', '58'])
const REFUSED = new Set(['42501'])

interface DriverError {
  code?: unknown
  message?: unknown
}

const codeOf = (error: DriverError) => (typeof error.code === 'string' ? error.code : '')

export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && RETRYABLE.has(codeOf(error as DriverError))
}

export function translatePostgresError(error: unknown, where: string): unknown {
  if (error instanceof CapeError || typeof error !== 'object' || error === null) return error
  const code = codeOf(error as DriverError)
  const message = typeof (error as DriverError).message === 'string' ? ((error as DriverError).message as string) : String(error)

  const unreachable = UNREACHABLE[code]
  if (unreachable !== undefined || code.startsWith('08') || SERVER_UNAVAILABLE.has(code)) {
    return new CapeError('issuer_unavailable', `cannot reach the database at ${where}: ${unreachable ?? message}`, {cause: error})
  }

  if (BUSY.has(code)) return new CapeError('store_busy', `the database at ${where} is busy (${message}); try again`, {cause: error})

  // The driver's TLS refusals (SSL_NOT_SUPPORTED...) and Node's certificate checks.
  if (code.startsWith('SSL_') || code.startsWith('TLS_') || code.includes('CERT') || code.startsWith('ERR_TLS_') || code === 'CHANNEL_BINDING_REQUIRED') {
    return new CapeError('store_unavailable', `cannot use the database at ${where}: ${message}`, {cause: error})
  }

  if (REFUSED_CLASSES.has(code.slice(0, 2)) || REFUSED.has(code)) {
    return new CapeError('store_unavailable', `cannot use the database at ${where}: ${message}`, {cause: error})
  }

  return error
}
