import {calculateJwkThumbprint, type JWK} from 'jose'

import {importKey} from '../keys/signing-key.js'
import type {StoredKey, StoredToken} from '../store/types.js'
import {decodeBase64urlJson, isJsonObject} from '../core/base64url-json.js'
import {CapeError} from '../core/errors.js'
import {command, wording, type Wording} from '../core/wording.js'
import {LIMITS, validateDescription, validateLabel, validateScope} from './rules.js'
import {TOKEN_ID_PATTERN} from './token-id.js'
import {normalizeRestrictions} from './restrictions.js'
import {newStoredToken} from './records.js'
import {ALGORITHMS, type Algorithm, type TokenGrant} from './types.js'

/**
 * A prepared token (EmailEngine's term): what another issuer needs to accept a token it did not
 * mint. The token's metadata, the iss and aud it carries, and the public key that signed it:
 * nothing secret, and never the token itself. `cape1.` + base64url(JSON).
 */
export interface PreparedToken {
  v: 1
  /** Bundles made before restrictions existed have none. */
  token: {id: string} & Omit<BundledGrant, 'restrictions'> & Partial<Pick<BundledGrant, 'restrictions'>>
  issuer: {iss: string; aud: string[]}
  key: JWK & {kid: string; alg: Algorithm}
}

/**
 * What a bundle carries of a token's grant, in this order: the kid is its key's, and a parent
 * means nothing to another issuer. Times in epoch milliseconds.
 */
const BUNDLED_FIELDS = ['name', 'description', 'subject', 'scopes', 'account', 'restrictions', 'createdAt', 'expiresAt'] as const
type BundledGrant = Pick<TokenGrant<number>, (typeof BUNDLED_FIELDS)[number]>

export const BUNDLE_PREFIX = 'cape1.'
/** Ours are under 1 KiB; an RS256 key makes them about 1.5 KiB. */
const MAX_BUNDLE_LENGTH = 16 * 1024

// Members that only a private or symmetric key has: a bundle carrying one is refused outright.
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const KEY_TYPE: Record<Algorithm, {kty: string; crv?: string}> = {
  EdDSA: {kty: 'OKP', crv: 'Ed25519'},
  ES256: {kty: 'EC', crv: 'P-256'},
  RS256: {kty: 'RSA'},
}

/** The bundle of a stored token, signed by `publicJwk` for `issuer`. */
export function encodePreparedToken(stored: StoredToken, issuer: {issuer: string; audience: string[]}, publicJwk: string): string {
  const grant = Object.fromEntries(BUNDLED_FIELDS.map((field) => [field, stored[field]])) as BundledGrant
  const bundle: PreparedToken = {
    v: 1,
    token: {id: stored.jti, ...grant},
    issuer: {iss: issuer.issuer, aud: issuer.audience},
    key: JSON.parse(publicJwk) as PreparedToken['key'],
  }
  return `${BUNDLE_PREFIX}${Buffer.from(JSON.stringify(bundle)).toString('base64url')}`
}

/**
 * Decodes and checks a bundle completely before anything is stored: shapes, the same rules as
 * `token create`, and a key that is public, of its algorithm's type, importable and named by
 * its own RFC 7638 thumbprint.
 */
export async function decodePreparedToken(text: string): Promise<{token: StoredToken; key: StoredKey}> {
  const bundle = parse(text.trim())
  const {token, issuer, key} = bundle
  const alg = key.alg
  if (!ALGORITHMS.includes(alg)) invalid(`its key's algorithm "${String(alg)}" is not one cape uses`)
  if (SECRET_MEMBERS.some((member) => member in key)) invalid('it carries a private key; a bundle must hold only the public key')
  const type = KEY_TYPE[alg]
  if (key.kty !== type.kty || (type.crv !== undefined && key.crv !== type.crv)) {
    invalid(`its key is not an ${alg} key`)
  }

  let thumbprint: string
  try {
    await importKey(key, alg)
    thumbprint = await calculateJwkThumbprint(key, 'sha256')
  } catch {
    invalid('its key cannot be read')
  }

  if (thumbprint !== key.kid) invalid("its key's kid is not the key's thumbprint")
  const {id, ...grant} = checkedToken(token)
  const audience = issuer.aud.map((entry) => validateLabel('audience', entry, LIMITS.audience))
  if (audience.length === 0) invalid('it names no audience')

  const publicJwk = Object.fromEntries(
    Object.entries(key).filter(([member]) => ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'].includes(member)),
  )
  return {
    token: newStoredToken(id, {...grant, kid: key.kid, parent: null}),
    key: {
      kid: key.kid,
      alg,
      publicJwk: JSON.stringify({...publicJwk, use: 'sig'}),
      createdAt: Date.now(),
      retiredAt: null,
      foreign: {issuer: validateLabel('issuer', issuer.iss, LIMITS.issuer), audience},
    },
  }
}

function parse(text: string): PreparedToken {
  if (!text.startsWith(BUNDLE_PREFIX)) invalid(wording`it does not start with "${BUNDLE_PREFIX}" (was it made by "${command('token', 'export')}"?)`)
  if (text.length > MAX_BUNDLE_LENGTH) invalid(`it is longer than ${MAX_BUNDLE_LENGTH / 1024} KiB`)
  const body = text.slice(BUNDLE_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) invalid('it is not base64url')

  const value = decodeBase64urlJson(body)
  if (value === undefined) invalid('it is not valid JSON inside')

  if (!isJsonObject(value) || value.v !== 1) invalid('it is not a version 1 bundle')
  const {token, issuer, key} = value
  if (!isJsonObject(token) || !isJsonObject(issuer) || !isJsonObject(key)) invalid('it lacks its token, issuer or key')
  if (typeof issuer.iss !== 'string' || !isStringArray(issuer.aud)) invalid('its issuer is not {iss, aud}')
  if (typeof key.kid !== 'string' || typeof key.alg !== 'string' || typeof key.kty !== 'string') {
    invalid('its key is not a JWK with kid and alg')
  }

  return value as unknown as PreparedToken
}

function checkedToken(token: PreparedToken['token']): {id: string} & BundledGrant {
  const {id, name, description, subject, scopes, account, createdAt, expiresAt, restrictions} = token
  if (restrictions !== undefined && restrictions !== null && (typeof restrictions !== 'object' || Array.isArray(restrictions))) {
    invalid('its restrictions are not an object')
  }
  if (typeof id !== 'string' || !TOKEN_ID_PATTERN.test(id)) invalid('its token id is not a cape token id')
  if (typeof name !== 'string' || typeof subject !== 'string') invalid('its token lacks a name or subject')
  if (description !== null && typeof description !== 'string') invalid('its description is not text')
  if (account !== null && typeof account !== 'string') invalid('its account is not text')
  if (!isStringArray(scopes)) invalid('its scopes are not a list')
  if (!isTime(createdAt) || (expiresAt !== null && !isTime(expiresAt))) invalid('its times are not epoch milliseconds')
  if (expiresAt !== null && expiresAt <= createdAt) invalid('it expires before it was created')

  try {
    return {
      id,
      name: validateLabel('name', name, LIMITS.name),
      description: validateDescription(description ?? undefined),
      subject: validateLabel('subject', subject, LIMITS.subject),
      scopes: scopes.map((scope) => validateScope(scope)),
      account: account === null ? null : validateLabel('account', account, LIMITS.account),
      // Kept exactly as signed: the token must match them claim for claim.
      restrictions: restrictions ? normalizeRestrictions(restrictions, {signed: true}) : null,
      createdAt,
      expiresAt,
    }
  } catch (error) {
    invalid((error as Error).message)
  }
}

function invalid(why: string | Wording): never {
  throw new CapeError('invalid_bundle', wording`not a valid prepared token: ${why}`)
}

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((entry) => typeof entry === 'string')
const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0
