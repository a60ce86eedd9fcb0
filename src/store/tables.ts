import type {Restrictions} from '../core/token.js'
import {json, plain, requiredJson, Table, words, type Field} from './columns.js'
import type {StoredIssuer, StoredKey, StoredToken} from './types.js'

/**
 * Which column keeps which field, for each table the stores map to domain objects: SQLite's
 * (migrations.ts creates them) and PostgreSQL's (postgres-migrations.ts, the same names).
 */

export const tokenTable = new Table<StoredToken>({
  jti: plain('jti'),
  subject: plain('subject'),
  name: plain('name'),
  description: plain('description'),
  scopes: words('scopes'),
  kid: plain('kid'),
  createdAt: plain('created_at'),
  expiresAt: plain('expires_at'),
  revokedAt: plain('revoked_at'),
  lastUsedAt: plain('last_used_at'),
  account: plain('account'),
  restrictions: json<Restrictions>('restrictions'),
  rotatedTo: plain('rotated_to'),
  lastUsedIp: plain('last_used_ip'),
  parent: plain('parent'),
})

/**
 * Only a key imported with a prepared token names the issuer and audience its tokens carry: two
 * columns, read back as one JSON value.
 */
const foreignIssuer: Field<StoredKey['foreign']> = {
  columns: ['foreign_issuer', 'foreign_audience'],
  write: (foreign) => (foreign === null ? [null, null] : [foreign.issuer, JSON.stringify(foreign.audience)]),
  select: {
    sqlite: "CASE WHEN foreign_issuer IS NULL THEN NULL ELSE json_object('issuer', foreign_issuer, 'audience', json(foreign_audience)) END",
    // As text, not json, so that one decoder reads both.
    postgres: "CASE WHEN foreign_issuer IS NULL THEN NULL ELSE json_build_object('issuer', foreign_issuer, 'audience', foreign_audience::json)::text END",
  },
  read: (stored) => (stored === null ? null : (JSON.parse(stored as string) as StoredKey['foreign'])),
}

export const keyTable = new Table<StoredKey>({
  kid: plain('kid'),
  alg: plain('alg'),
  publicJwk: plain('public_jwk'),
  createdAt: plain('created_at'),
  retiredAt: plain('retired_at'),
  foreign: foreignIssuer,
})

/** The one issuer row (id 1). */
export const issuerTable = new Table<StoredIssuer>({
  issuer: plain('issuer'),
  audience: requiredJson<string[]>('audience'),
  algorithm: plain('algorithm'),
  defaultSubject: plain('default_subject'),
  activeKid: plain('active_kid'),
  createdAt: plain('created_at'),
  maxLifetimeSeconds: plain('max_lifetime'),
  keyStorage: {columns: ['key_storage'], write: (storage) => [storage], read: (stored) => (stored === 'keychain' ? 'keychain' : 'file')},
})
