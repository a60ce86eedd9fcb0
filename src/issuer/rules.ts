import {CapeError} from '../core/errors.js'

/** Rules for what a user may put into a token; the same for the CLI and the HTTP API. */

export const DEFAULT_SCOPES: readonly string[] = ['api']
export const ALL_SCOPES = '*'

const SCOPE = /^[A-Za-z0-9:._-]{1,64}$/
// C0/C1 controls and the bidi overrides that can disguise text in a terminal table.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

export const LIMITS = {
  name: 100,
  description: 500,
  subject: 255,
  account: 255,
  issuer: 255,
  audience: 255,
  scopes: 32,
} as const

export function validateScope(scope: string): string {
  if (scope === ALL_SCOPES || SCOPE.test(scope)) return scope
  throw new CapeError(
    'invalid_scope',
    `invalid scope "${scope}": use up to 64 letters, digits, ":", "-", "_" or ".", or "*" for every scope`,
  )
}

/** Validates, de-duplicates and sorts scopes; `*` already grants everything, so it stands alone. */
export function normalizeScopes(scopes: readonly string[] | undefined): string[] {
  if (!scopes || scopes.length === 0) return [...DEFAULT_SCOPES]
  const unique = [...new Set(scopes.map((scope) => validateScope(scope)))]
  if (unique.includes(ALL_SCOPES)) return [ALL_SCOPES]
  if (unique.length > LIMITS.scopes) {
    throw new CapeError('invalid_scope', `too many scopes: at most ${LIMITS.scopes}`)
  }

  return unique.sort()
}

export function grantsScopes(granted: readonly string[], required: readonly string[]): boolean {
  if (granted.includes(ALL_SCOPES)) return true
  return required.every((scope) => granted.includes(scope))
}

/** A short single line of printable text: names, subjects, issuer ids, audiences. */
export function validateLabel(kind: string, value: string, maxLength: number): string {
  if (value.trim().length === 0) throw new CapeError('invalid_argument', `${kind} must not be empty`)
  if ([...value].length > maxLength) {
    throw new CapeError('invalid_argument', `${kind} is too long: at most ${maxLength} characters`)
  }

  if (UNPRINTABLE.test(value)) {
    throw new CapeError('invalid_argument', `${kind} must not contain control characters`)
  }

  return value
}

export function validateDescription(value: string | undefined): string | null {
  if (value === undefined || value.length === 0) return null
  return validateLabel('description', value, LIMITS.description)
}

/** Scopes no token minted through the API may carry: full access, and the operators' metrics. */
export const RESERVED_SCOPES: readonly string[] = ['*', 'metrics']

/**
 * The scopes of a token a caller mints for itself through the API: never a reserved scope, and
 * never more than the caller's own token grants.
 */
export function delegatedScopes(callerScopes: readonly string[], requested: readonly string[] | undefined): string[] {
  const scopes = normalizeScopes(requested)
  const reserved = scopes.filter((scope) => RESERVED_SCOPES.includes(scope))
  if (reserved.length > 0) {
    throw new CapeError('scope_not_allowed', `a token minted through the API cannot carry ${reserved.map((scope) => `"${scope}"`).join(' or ')}`, {
      reason: 'scopes',
    })
  }

  const missing = scopes.filter((scope) => !grantsScopes(callerScopes, [scope]))
  if (missing.length > 0) {
    throw new CapeError('scope_not_allowed', `a token cannot grant more than its creator's scopes: ${missing.map((scope) => `"${scope}"`).join(', ')}`, {
      reason: 'scopes',
    })
  }

  return scopes
}
