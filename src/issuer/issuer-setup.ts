import {userInfo} from 'node:os'

import {describeDuration} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import {privateKeyStore} from '../keys/private-key-store.js'
import type {Store, StoredIssuer} from '../store/types.js'
import {DEFAULT_ALGORITHM, DEFAULT_AUDIENCE, DEFAULT_ISSUER} from './defaults.js'
import {LIMITS, validateLabel} from './rules.js'
import {newSigningKey} from './signing-keys.js'
import type {InitIssuerInput} from './types.js'

/**
 * Creates the first signing key and the issuer row. Several processes may race here on a new
 * CAPE_HOME: the store lets exactly one win (true), the others adopt the winner's issuer.
 */
export async function initializeIssuer(store: Store, keysDir: string, input: InitIssuerInput, now: number): Promise<boolean> {
  const algorithm = input.algorithm ?? DEFAULT_ALGORITHM
  const issuer = validateLabel('issuer', input.issuer ?? DEFAULT_ISSUER, LIMITS.issuer)
  const audience = [...new Set(input.audience?.length ? input.audience : DEFAULT_AUDIENCE)].map((entry) =>
    validateLabel('audience', entry, LIMITS.audience),
  )
  const subject = validateLabel('subject', input.defaultSubject ?? defaultSubject(), LIMITS.subject)
  const maxLifetimeSeconds = input.maxLifetimeSeconds ?? null
  const keyStorage = input.keyStorage ?? 'file'
  const key = await newSigningKey(keysDir, algorithm, keyStorage, now)
  const won = await store.initIssuer(
    {issuer, audience, algorithm, defaultSubject: subject, activeKid: key.kid, createdAt: key.createdAt, maxLifetimeSeconds, keyStorage},
    key,
  )
  if (!won) await (await privateKeyStore(keyStorage, keysDir)).remove(key.kid)
  return won
}

/**
 * The lifetime a new token gets under the issuer's policy: the maximum when none is asked for,
 * a refusal when more is asked (or, for a rotation, the maximum).
 */
export function lifetimeWithinPolicy(issuer: StoredIssuer, asked: number | undefined, options = {clamp: false}): number | undefined {
  const max = issuer.maxLifetimeSeconds
  if (max === null) return asked
  if (asked === undefined) return max
  if (asked <= max) return asked
  if (options.clamp) return max
  throw new CapeError(
    'invalid_duration',
    `a lifetime of ${describeDuration(asked)} is longer than this issuer allows: at most ${describeDuration(max)}`,
  )
}

function defaultSubject(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'cape'
  }
}
