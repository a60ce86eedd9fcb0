import {Type, type Static} from '@sinclair/typebox'

import {MAX_LIFETIME_SECONDS} from '../core/duration.js'
import type {AuditEvent, CreatedToken, Jwks, PublicJwk, RevokedToken, RotatedToken, TokenClaims, TokenRecord, TokenStatus} from '../issuer/types.js'

/**
 * Each route's schemas, and through Fastify's TypeBox type provider its types: one declaration.
 * Requests are validated with them; responses are serialised with them (fast-json-stringify),
 * which drops anything not listed. The issuer's types stay plain TypeScript in core, so a command
 * never loads TypeBox; the check at the end keeps each response schema's type equal to the
 * issuer type it serialises.
 */

/**
 * `schema` exactly as written, typed as `T`: for what TypeBox would spell as an anyOf (a string
 * union, a nullable string), which would change a request's 400 message or make the serialiser
 * validate every response to pick a branch.
 */
const typed = <T>(schema: object) => Type.Unsafe<T>(schema)

const stringArray = Type.Array(Type.String())
const nullableString = typed<string | null>({type: ['string', 'null']})
const lifetime = Type.Union([Type.Integer({minimum: 1, maximum: MAX_LIFETIME_SECONDS}), Type.String({maxLength: 32})])
/** EmailEngine's "none" for a restriction. */
const none = typed<false>({const: false})

export const health = Type.Object({status: Type.String()})

export const jwks = Type.Object({keys: Type.Array(typed<PublicJwk>({type: 'object', additionalProperties: true}))})

export const metadata = Type.Object({
  issuer: Type.String(),
  jwks_uri: Type.String(),
  introspection_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  scopes_supported: stringArray,
  response_types_supported: stringArray,
  grant_types_supported: stringArray,
  introspection_endpoint_auth_methods_supported: stringArray,
  revocation_endpoint_auth_methods_supported: stringArray,
  cape_audience: typed<readonly string[]>(stringArray),
})

export const token = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: nullableString,
  subject: Type.String(),
  scopes: stringArray,
  kid: Type.String(),
  status: typed<TokenStatus>({type: 'string'}),
  createdAt: Type.String(),
  expiresAt: nullableString,
  revokedAt: nullableString,
  lastUsedAt: nullableString,
  lastUsedIp: nullableString,
  account: nullableString,
  rotatedTo: nullableString,
  parent: nullableString,
  restrictions: Type.Union([
    Type.Null(),
    Type.Object({
      addresses: Type.Optional(stringArray),
      referrers: Type.Optional(stringArray),
      rateLimit: Type.Optional(Type.Object({maxRequests: Type.Integer(), timeWindow: Type.Integer()})),
    }),
  ]),
})

/** An account-bound caller's own account when `account` is left out; required of a caller bound to none. */
export const createTokenBody = Type.Object(
  {
    name: Type.String({minLength: 1, maxLength: 100}),
    description: Type.Optional(Type.String({maxLength: 500})),
    scopes: Type.Optional(Type.Array(Type.String({maxLength: 64}), {maxItems: 32})),
    expiresIn: Type.Optional(lifetime),
    account: Type.Optional(Type.String({minLength: 1, maxLength: 255})),
    restrictions: Type.Optional(
      Type.Object(
        {
          addresses: Type.Optional(Type.Union([none, Type.Array(Type.String({maxLength: 64}), {maxItems: 64})])),
          referrers: Type.Optional(Type.Union([none, Type.Array(Type.String({maxLength: 500}), {maxItems: 64})])),
          rateLimit: Type.Optional(
            Type.Union([
              none,
              Type.Object({maxRequests: Type.Integer({minimum: 1}), timeWindow: Type.Integer({minimum: 1})}, {additionalProperties: false}),
            ]),
          ),
        },
        {additionalProperties: false},
      ),
    ),
  },
  {additionalProperties: false},
)

export const tokenParams = Type.Object({id: Type.String()})

/** Only `all=true` lists revoked tokens too; any other value is the default, as it always was. */
export const listQuery = Type.Object({all: Type.Optional(Type.Unknown())})

export const revocationsQuery = Type.Object({since: Type.Optional(Type.String())})

export const revocationSnapshot = Type.Object({
  cursor: Type.Integer(),
  revoked: Type.Array(Type.Object({jti: Type.String(), revokedAt: Type.String(), expiresAt: nullableString})),
})

export const rotateBody = Type.Union([Type.Null(), Type.Object({grace: Type.Optional(lifetime)}, {additionalProperties: false})])

export const revokeQuery = Type.Object({cascade: Type.Optional(typed<'true' | 'false'>({type: 'string', enum: ['true', 'false']}))})

export const revokedToken = Type.Object({...token.properties, cascaded: Type.Optional(stringArray)})

export const trail = Type.Array(
  Type.Object({at: Type.String(), event: typed<AuditEvent['event']>({type: 'string'}), detail: nullableString, count: Type.Integer()}),
)

export const createdToken = Type.Object({...token.properties, token: Type.String()})

export const rotatedToken = Type.Object({...createdToken.properties, previous: token})

export const tokenList = Type.Array(token)

export const whoami = Type.Object({
  subject: Type.String(),
  id: Type.String(),
  name: Type.String(),
  scopes: typed<readonly string[]>(stringArray),
  expiresAt: nullableString,
  account: nullableString,
  claims: typed<Readonly<TokenClaims>>({type: 'object', additionalProperties: true}),
})

export const introspection = Type.Object({
  active: Type.Boolean(),
  token_type: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  sub: Type.Optional(Type.String()),
  iss: Type.Optional(Type.String()),
  // Always a list here (RFC 7662 allows either): anyOf would make every response run a validator.
  aud: Type.Optional(stringArray),
  jti: Type.Optional(Type.String()),
  iat: Type.Optional(Type.Integer()),
  nbf: Type.Optional(Type.Integer()),
  exp: Type.Optional(Type.Integer()),
  username: Type.Optional(Type.String()),
  account: Type.Optional(Type.String()),
})

/** True when A and B are the same type, not merely assignable one way. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
type AllHold<Checks extends Record<string, true>> = Checks

/** Compile-time only: what each response schema serialises is exactly the issuer's type. */
export type ResponsesMatchTheIssuer = AllHold<{
  token: Same<Static<typeof token>, TokenRecord>
  tokenList: Same<Static<typeof tokenList>, TokenRecord[]>
  createdToken: Same<Static<typeof createdToken>, CreatedToken>
  rotatedToken: Same<Static<typeof rotatedToken>, RotatedToken>
  revokedToken: Same<Static<typeof revokedToken>, RevokedToken>
  trail: Same<Static<typeof trail>, AuditEvent[]>
  jwks: Same<Static<typeof jwks>, Jwks>
}>
