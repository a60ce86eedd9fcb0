import {decodeJsonSegment} from '../core/base64url-json.js'
import {CapeError} from '../core/errors.js'
import type {TokenClaims, TokenState} from '../core/token.js'
import type {Store, StoredIssuer} from '../store/types.js'
import {iso, notFound, statusOf} from './records.js'
import {claimsFor, headerFor, sameJson} from './token-claims.js'

/** Prepared tokens (EmailEngine's): a token exported here to be accepted elsewhere, and imported from elsewhere. */

/**
 * A bundle another issuer (or this one) can import to accept the token: its metadata, iss, aud
 * and public key. Refused for a revoked or expired token, which no one should prepare.
 */
export async function exportPreparedToken(store: Store, own: StoredIssuer | undefined, id: string, now: number): Promise<string> {
  const token = await store.getToken(id)
  if (!token) throw notFound(id)
  const status = statusOf(token, now)
  if (status !== 'active') throw new CapeError('token_inactive', `token ${id} is ${status}: there is nothing to export`)

  const key = (await store.listKeys()).find((candidate) => candidate.kid === token.kid)
  const issuer = key?.foreign ?? (own && {issuer: own.issuer, audience: own.audience})
  if (!key || !issuer) throw new CapeError('key_unavailable', `the key that signed token ${id} is no longer in the store`)

  const {encodePreparedToken} = await import('./prepared-token.js')
  return encodePreparedToken(token, issuer, key.publicJwk)
}

/**
 * Stores a prepared token so that this issuer accepts it; its key verifies only the token
 * imported with it. Importing the same token again is a no-op and never undoes a revocation.
 * The token's id, and whether this call stored it.
 */
export async function importPreparedToken(store: Store, bundle: string, now: number): Promise<{id: string; imported: boolean}> {
  const {decodePreparedToken} = await import('./prepared-token.js')
  const {token, key} = await decodePreparedToken(bundle)
  const existing = await store.getToken(token.jti)
  if (!existing && token.expiresAt !== null && token.expiresAt <= now) {
    throw new CapeError('token_inactive', `token ${token.jti} expired on ${iso(token.expiresAt)}: there is nothing to import`)
  }

  const outcome = await store.importToken(token, key)
  if (outcome === 'token_conflict') {
    throw new CapeError('token_conflict', `another token with id ${token.jti} is already stored here; nothing was imported`)
  }

  if (outcome === 'key_conflict') {
    throw new CapeError('token_conflict', `key ${key.kid} is already known here for another issuer or audience; nothing was imported`)
  }

  if (outcome === 'imported') {
    await store.appendAudit([{jti: token.jti, at: now, event: 'imported', detail: `from ${key.foreign!.issuer}`, count: 1}])
  }

  return {id: token.jti, imported: outcome === 'imported'}
}

/**
 * A key imported with a prepared token vouches for exactly the token exported: the same header
 * and the same claims, all of them, as its stored metadata gives. Anything else its holder
 * signs under that jti is a token nobody here granted: undefined, so `unknown_token`.
 */
export async function preparedTokenState(store: Store, claims: Readonly<TokenClaims>, kid: string, token: string): Promise<TokenState | undefined> {
  const [stored, keys] = await Promise.all([store.getToken(claims.jti), store.listKeys()])
  const key = keys.find((candidate) => candidate.kid === kid)
  if (!stored || stored.kid !== kid || !key?.foreign) return undefined
  const header = decodeJsonSegment(token.split('.')[0])
  if (!sameJson(header, headerFor(key.alg, kid)) || !sameJson(claims, claimsFor(stored, key.foreign))) return undefined
  return {name: stored.name, revokedAt: stored.revokedAt, account: stored.account}
}
