import type {Algorithm, Restrictions} from '../core/token.js'
import type {StoredIssuer, StoredKey, StoredToken} from './types.js'

/**
 * The rows of the tables both stores share (the same names and columns in SQLite and
 * PostgreSQL), and the one function per table that turns a row into the store's view and back.
 */

/** The trail keeps this many entries per token; older ones make way. */
export const AUDIT_ENTRIES_PER_TOKEN = 200
/** A trail entry's detail, and a last-use address, never grow past these, whatever a caller passes. */
export const AUDIT_DETAIL_MAX = 500
export const ADDRESS_MAX = 64

export interface TokenRow {
  jti: string
  subject: string
  name: string
  description: string | null
  scopes: string
  kid: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  last_used_at: number | null
  account: string | null
  restrictions: string | null
  rotated_to: string | null
  last_used_ip: string | null
  parent: string | null
}

export interface IssuerRow {
  issuer: string
  audience: string
  algorithm: string
  default_subject: string
  active_kid: string
  created_at: number
  max_lifetime: number | null
  key_storage: string
}

export interface KeyRow {
  kid: string
  alg: string
  public_jwk: string
  created_at: number
  retired_at: number | null
  foreign_issuer: string | null
  foreign_audience: string | null
}

/** Every column of a row type, in the order statements name them; a column left out fails to compile. */
const columnsOf =
  <Row>() =>
  <const Fields extends readonly (keyof Row)[]>(fields: Fields & ([Exclude<keyof Row, Fields[number]>] extends [never] ? unknown : never)) =>
    fields

export const TOKEN_FIELDS = columnsOf<TokenRow>()([
  'jti', 'subject', 'name', 'description', 'scopes', 'kid', 'created_at', 'expires_at', 'revoked_at', 'last_used_at', 'account',
  'restrictions', 'rotated_to', 'last_used_ip', 'parent',
])
export const KEY_FIELDS = columnsOf<KeyRow>()(['kid', 'alg', 'public_jwk', 'created_at', 'retired_at', 'foreign_issuer', 'foreign_audience'])
export const ISSUER_FIELDS = columnsOf<IssuerRow>()([
  'issuer', 'audience', 'algorithm', 'default_subject', 'active_kid', 'created_at', 'max_lifetime', 'key_storage',
])

export const TOKEN_COLUMNS = TOKEN_FIELDS.join(', ')
export const KEY_COLUMNS = KEY_FIELDS.join(', ')
export const ISSUER_COLUMNS = ISSUER_FIELDS.join(', ')

export function tokenRow(token: StoredToken): TokenRow {
  return {
    jti: token.jti,
    subject: token.subject,
    name: token.name,
    description: token.description,
    scopes: token.scopes.join(' '),
    kid: token.kid,
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    revoked_at: token.revokedAt,
    last_used_at: token.lastUsedAt,
    account: token.account,
    restrictions: token.restrictions === null ? null : JSON.stringify(token.restrictions),
    rotated_to: token.rotatedTo,
    last_used_ip: token.lastUsedIp,
    parent: token.parent,
  }
}

export function toToken(row: TokenRow): StoredToken {
  return {
    jti: row.jti,
    subject: row.subject,
    name: row.name,
    description: row.description,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    kid: row.kid,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    account: row.account,
    // The one place the JSON column is read.
    restrictions: row.restrictions === null ? null : (JSON.parse(row.restrictions) as Restrictions),
    rotatedTo: row.rotated_to,
    lastUsedIp: row.last_used_ip,
    parent: row.parent,
  }
}

export function issuerRow(issuer: StoredIssuer): IssuerRow {
  return {
    issuer: issuer.issuer,
    audience: JSON.stringify(issuer.audience),
    algorithm: issuer.algorithm,
    default_subject: issuer.defaultSubject,
    active_kid: issuer.activeKid,
    created_at: issuer.createdAt,
    max_lifetime: issuer.maxLifetimeSeconds,
    key_storage: issuer.keyStorage,
  }
}

export function toIssuer(row: IssuerRow): StoredIssuer {
  return {
    issuer: row.issuer,
    audience: JSON.parse(row.audience) as string[],
    algorithm: row.algorithm as Algorithm,
    defaultSubject: row.default_subject,
    activeKid: row.active_kid,
    createdAt: row.created_at,
    maxLifetimeSeconds: row.max_lifetime,
    keyStorage: row.key_storage === 'keychain' ? 'keychain' : 'file',
  }
}

export function keyRow(key: StoredKey): KeyRow {
  return {
    kid: key.kid,
    alg: key.alg,
    public_jwk: key.publicJwk,
    created_at: key.createdAt,
    retired_at: key.retiredAt,
    foreign_issuer: key.foreign?.issuer ?? null,
    foreign_audience: key.foreign ? JSON.stringify(key.foreign.audience) : null,
  }
}

export function toKey(row: KeyRow): StoredKey {
  return {
    kid: row.kid,
    alg: row.alg as Algorithm,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
    foreign:
      row.foreign_issuer === null
        ? null
        : {issuer: row.foreign_issuer, audience: JSON.parse(row.foreign_audience ?? '[]') as string[]},
  }
}

/**
 * Whether a key already stored stands for the same issuer and audience as `key` claims: a
 * prepared token's key is taken only when it is the same issuer's. `own` is this store's issuer.
 */
export function sameIssuerOf(known: StoredKey, key: StoredKey, own: StoredIssuer | undefined): boolean {
  const ownFor = own && {issuer: own.issuer, audience: own.audience}
  const knownFor = known.foreign ?? ownFor
  const keyFor = key.foreign ?? ownFor
  return (
    knownFor !== undefined &&
    keyFor !== undefined &&
    knownFor.issuer === keyFor.issuer &&
    knownFor.audience.length === keyFor.audience.length &&
    knownFor.audience.every((entry) => keyFor.audience.includes(entry))
  )
}
