import {LATEST_TIME_MS} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import type {IssuerSettings, TokenGrant, TokenRecord, TokenStatus} from '../core/token.js'
import type {StoredIssuer, StoredToken} from '../store/types.js'

/** What the store keeps, as callers see it: pure functions of a row and the time. */

export function statusOf(token: StoredToken, now: number): TokenStatus {
  if (![token.createdAt, token.expiresAt, token.revokedAt, token.lastUsedAt].every(renderable)) return 'invalid'
  if (token.revokedAt !== null && token.revokedAt <= now) return 'revoked'
  return token.expiresAt !== null && token.expiresAt <= now ? 'expired' : 'active'
}

/** A token just made, minted here or imported: its grant under its jti, with nothing happened to it yet. */
export function newStoredToken(jti: string, grant: TokenGrant<number>): StoredToken {
  return {...grant, jti, revokedAt: null, lastUsedAt: null, lastUsedIp: null, rotatedTo: null}
}

export function toRecord(token: StoredToken, now: number): TokenRecord {
  return {
    id: token.jti,
    name: token.name,
    description: token.description,
    subject: token.subject,
    scopes: token.scopes,
    kid: token.kid,
    status: statusOf(token, now),
    createdAt: iso(token.createdAt),
    expiresAt: isoOrNull(token.expiresAt),
    revokedAt: isoOrNull(token.revokedAt),
    lastUsedAt: isoOrNull(token.lastUsedAt),
    account: token.account,
    restrictions: token.restrictions,
    rotatedTo: token.rotatedTo,
    lastUsedIp: token.lastUsedIp,
    parent: token.parent,
  }
}

export function toSettings({activeKid: _activeKid, createdAt: _createdAt, ...settings}: StoredIssuer): IssuerSettings {
  return settings
}

export function notFound(id: string): CapeError {
  return new CapeError('token_not_found', `no token with id ${id}`)
}

/** A stored time that a date can show; anything else (a row written before times were bounded) marks its token invalid. */
const renderable = (ms: number | null): boolean => ms === null || (Number.isSafeInteger(ms) && ms >= 0 && ms <= LATEST_TIME_MS)
export const iso = (ms: number): string => (renderable(ms) ? new Date(ms).toISOString() : 'invalid')
export const isoOrNull = (ms: number | null): string | null => (ms === null || !renderable(ms) ? null : iso(ms))
