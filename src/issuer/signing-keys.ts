import type {JWK} from 'jose'

import {CapeError} from '../core/errors.js'
import {command, wording} from '../core/wording.js'
import type {Algorithm, KeyStorage} from '../core/token.js'
import {privateKeyStore} from '../keys/private-key-store.js'
import type {Store, StoredIssuer, StoredKey} from '../store/types.js'
import {iso, isoOrNull} from './records.js'
import type {SigningKeyInfo} from './types.js'

/** The issuer's signing keys: made, listed, retired. The issuer reloads what it had loaded after each change. */

/** A new key pair: the private half stored first, so a committed key always has it. */
export async function newSigningKey(keysDir: string, algorithm: Algorithm, storage: KeyStorage, now: number): Promise<StoredKey> {
  const {generateSigningKey} = await import('../keys/signing-key.js')
  const key = await generateSigningKey(algorithm)
  await (await privateKeyStore(storage, keysDir)).write(key.kid, key.privateJwk)
  return {kid: key.kid, alg: algorithm, publicJwk: JSON.stringify(key.publicJwk), createdAt: now, retiredAt: null, foreign: null}
}

/**
 * The key this process signs with, and its private half: the issuer's active key. On a store
 * shared by instances on several machines (one with addKey), each keeping its own private keys,
 * an instance that does not hold the active key signs with the newest of its own it holds, and
 * one that holds none makes a key and registers it, so every instance's JWKS lists it within a
 * key check (a second).
 */
export async function instanceSigningKey(store: Store, keysDir: string, issuer: StoredIssuer, now: number): Promise<{kid: string; privateJwk: JWK}> {
  const keys = await privateKeyStore(issuer.keyStorage, keysDir)
  if (store.addKey === undefined || (await keys.has(issuer.activeKid))) return {kid: issuer.activeKid, privateJwk: await keys.read(issuer.activeKid)}
  const ownNewestFirst = (await store.listKeys())
    .filter((key) => key.foreign === null && key.retiredAt === null && key.alg === issuer.algorithm)
    .reverse()
  for (const key of ownNewestFirst) {
    if (await keys.has(key.kid)) return {kid: key.kid, privateJwk: await keys.read(key.kid)}
  }

  const key = await newSigningKey(keysDir, issuer.algorithm, issuer.keyStorage, now)
  await store.addKey(key)
  return {kid: key.kid, privateJwk: await keys.read(key.kid)}
}

/** This issuer's own keys (not those imported with prepared tokens), oldest first. */
export function describeSigningKeys(keys: readonly StoredKey[], activeKid: string): SigningKeyInfo[] {
  return keys
    .filter((key) => key.foreign === null)
    .map((key) => ({
      kid: key.kid,
      alg: key.alg,
      status: key.retiredAt !== null ? 'retired' : key.kid === activeKid ? 'active' : 'verifying',
      createdAt: iso(key.createdAt),
      retiredAt: isoOrNull(key.retiredAt),
    }))
}

/** Retires a key that no longer signs and deletes its private half; refused for the active key. */
export async function retireSigningKey(store: Store, keysDir: string, issuer: StoredIssuer, kid: string, now: number): Promise<void> {
  const outcome = await store.retireKey(kid, now)
  if (outcome === 'not_found') throw new CapeError('key_not_found', `no signing key ${kid} of this issuer`)
  if (outcome === 'active') throw new CapeError('key_active', wording`key ${kid} is the active key: rotate first ("${command('issuer', 'keys', 'rotate')}")`)
  if (outcome === 'already_retired') throw new CapeError('key_not_found', `key ${kid} is already retired`)
  await (await privateKeyStore(issuer.keyStorage, keysDir)).remove(kid)
}
