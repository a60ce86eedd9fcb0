import {MAX_LIFETIME_SECONDS} from '../core/duration.js'
import type {RestrictionsInput} from '../issuer/types.js'

/** Response schemas: fast-json-stringify serialises with them and drops anything not listed. */

const stringArray = {type: 'array', items: {type: 'string'}} as const
const nullableString = {type: ['string', 'null']} as const
const lifetime = {anyOf: [{type: 'integer', minimum: 1, maximum: MAX_LIFETIME_SECONDS}, {type: 'string', maxLength: 32}]} as const

export const health = {type: 'object', properties: {status: {type: 'string'}}} as const

export const jwks = {
  type: 'object',
  properties: {keys: {type: 'array', items: {type: 'object', additionalProperties: true}}},
} as const

export const metadata = {
  type: 'object',
  properties: {
    issuer: {type: 'string'},
    jwks_uri: {type: 'string'},
    introspection_endpoint: {type: 'string'},
    revocation_endpoint: {type: 'string'},
    scopes_supported: stringArray,
    response_types_supported: stringArray,
    grant_types_supported: stringArray,
    introspection_endpoint_auth_methods_supported: stringArray,
    revocation_endpoint_auth_methods_supported: stringArray,
    cape_audience: stringArray,
  },
} as const

export const token = {
  type: 'object',
  properties: {
    id: {type: 'string'},
    name: {type: 'string'},
    description: nullableString,
    subject: {type: 'string'},
    scopes: stringArray,
    kid: {type: 'string'},
    status: {type: 'string'},
    createdAt: {type: 'string'},
    expiresAt: nullableString,
    revokedAt: nullableString,
    lastUsedAt: nullableString,
    lastUsedIp: nullableString,
    account: nullableString,
    rotatedTo: nullableString,
    parent: nullableString,
    restrictions: {
      anyOf: [
        {type: 'null'},
        {
          type: 'object',
          properties: {
            addresses: stringArray,
            referrers: stringArray,
            rateLimit: {type: 'object', properties: {maxRequests: {type: 'integer'}, timeWindow: {type: 'integer'}}},
          },
        },
      ],
    },
  },
} as const

export const createTokenBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: {type: 'string', minLength: 1, maxLength: 100},
    description: {type: 'string', maxLength: 500},
    scopes: {type: 'array', maxItems: 32, items: {type: 'string', maxLength: 64}},
    expiresIn: lifetime,
    account: {type: 'string', minLength: 1, maxLength: 255},
    // EmailEngine's shape; each may be false for "none".
    restrictions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        addresses: {anyOf: [{const: false}, {type: 'array', maxItems: 64, items: {type: 'string', maxLength: 64}}]},
        referrers: {anyOf: [{const: false}, {type: 'array', maxItems: 64, items: {type: 'string', maxLength: 500}}]},
        rateLimit: {
          anyOf: [
            {const: false},
            {
              type: 'object',
              required: ['maxRequests', 'timeWindow'],
              additionalProperties: false,
              properties: {maxRequests: {type: 'integer', minimum: 1}, timeWindow: {type: 'integer', minimum: 1}},
            },
          ],
        },
      },
    },
  },
} as const

export interface CreateTokenBody {
  name: string
  /** Required of a caller bound to no account; a bound caller's own when left out. */
  account?: string
  description?: string
  scopes?: string[]
  expiresIn?: number | string
  restrictions?: RestrictionsInput
}

export const rotateBody = {
  anyOf: [{type: 'null'}, {type: 'object', additionalProperties: false, properties: {grace: lifetime}}],
} as const

export const revokeQuery = {
  type: 'object',
  properties: {cascade: {type: 'string', enum: ['true', 'false']}},
} as const

export const revokedToken = {
  type: 'object',
  properties: {...token.properties, cascaded: stringArray},
} as const

export const trail = {
  type: 'array',
  items: {
    type: 'object',
    properties: {at: {type: 'string'}, event: {type: 'string'}, detail: nullableString, count: {type: 'integer'}},
  },
} as const

export const createdToken = {
  type: 'object',
  properties: {...token.properties, token: {type: 'string'}},
} as const

export const rotatedToken = {
  type: 'object',
  properties: {...createdToken.properties, previous: token},
} as const

export const tokenList = {type: 'array', items: token} as const

export const whoami = {
  type: 'object',
  properties: {
    subject: {type: 'string'},
    id: {type: 'string'},
    name: {type: 'string'},
    scopes: stringArray,
    expiresAt: nullableString,
    account: nullableString,
    claims: {type: 'object', additionalProperties: true},
  },
} as const

export const introspection = {
  type: 'object',
  required: ['active'],
  properties: {
    active: {type: 'boolean'},
    token_type: {type: 'string'},
    scope: {type: 'string'},
    sub: {type: 'string'},
    iss: {type: 'string'},
    // Always a list here (RFC 7662 allows either): anyOf would make every response run a validator.
    aud: stringArray,
    jti: {type: 'string'},
    iat: {type: 'integer'},
    nbf: {type: 'integer'},
    exp: {type: 'integer'},
    username: {type: 'string'},
    account: {type: 'string'},
  },
} as const
