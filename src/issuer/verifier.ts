import {compactVerify} from 'jose'

import type {Keyring, VerificationKey} from '../keys/keyring.js'
import {decodeJsonSegment} from '../core/base64url-json.js'
import type {MaybePromise, RateLimit, TokenState} from '../core/token.js'
import {grantsScopes} from './rules.js'
import {LATEST_TIME_MS} from '../core/duration.js'
import {SignatureCache} from './signature-cache.js'
import {TOKEN_ID_PATTERN} from './token-id.js'
import {CompiledRestrictions, normalizeRestrictions} from './restrictions.js'
import type {
  RateLimitStatus,
  RequestContext,
  RestrictionsInput,
  TokenClaims,
  VerifyOptions,
  VerifyReason,
  VerifyResult,
} from './types.js'

/** Tokens longer than this are refused before any parsing; ours are well under 1 KiB. */
export const MAX_TOKEN_LENGTH = 8192

// Headers that carry or point to a key. A token never chooses its own key: only `kid` counts.
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const
const SEGMENT = /^[A-Za-z0-9_-]+$/
// Empty for `alg: none`, which must reach the algorithm check to be refused by name.
const SIGNATURE_SEGMENT = /^[A-Za-z0-9_-]*$/

export interface VerifierConfig {
  issuer: string
  audience: readonly string[]
  keyring: Keyring
  /**
   * Revocation state of the token `claims.jti`; undefined when the store has never heard of it.
   * `foreignKid` is set when a key imported with a prepared token signed it: that key vouches only
   * for the tokens imported with it, so the token must be known together with it. (The issuer's
   * own keys need no such binding: only the issuer can sign with them.) `token` is there for a
   * lookup that asks a remote issuer.
   */
  lookup: (
    claims: Readonly<TokenClaims>,
    foreignKid: string | undefined,
    token: string,
    request: RequestContext | undefined,
  ) => MaybePromise<TokenState | undefined>
  /**
   * Asked when a token names a kid the keyring lacks: a keyring with a different key set, or
   * undefined when nothing changed (or it is too soon to ask again). Rate limiting is its job.
   */
  refreshKeys?: (loaded: readonly string[]) => Promise<Keyring | undefined>
  /** Told of every successful verification, for last-used tracking. */
  onVerified?: (jti: string, at: number, ip: string | undefined) => void
  /** Told of every refusal of a token whose signature held (its jti is really ours), for the audit trail. */
  onRefused?: (jti: string, reason: VerifyReason, at: number, request: RequestContext | undefined) => void
  /** A revoked token is used: if it was rotated away, reuse detection revokes its successors. */
  onRevokedUse?: (jti: string, at: number) => Promise<void>
  /** Counts a use of a rate-limited token in its window; returns the window's count. */
  countUse?: (jti: string, windowStart: number) => MaybePromise<number>
  /** The uses counted so far in a window, counting none: for a check. */
  peekUse?: (jti: string, windowStart: number) => MaybePromise<number>
  /**
   * Once a rate-limited token's own count allows a use: the same use counted (or, for a check,
   * read) against the rate limits of the tokens it was minted through, whose budget it spends
   * too. The first ancestor's status that refuses it, if any.
   */
  countAncestorUses?: (jti: string, now: number, purpose: 'use' | 'check') => MaybePromise<RateLimitStatus | undefined>
  now?: () => number
  cacheSize?: number
}

/** What survives the first, expensive look at a token and holds for as long as its string. */
interface CheckedToken {
  /** The token's signed restrictions, ready to check a request against. */
  restrictions: CompiledRestrictions | undefined
  /** The kid of a key imported with a prepared token; undefined for the issuer's own. */
  foreignKid: string | undefined
  claims: Readonly<TokenClaims>
  scopes: readonly string[]
  expiresAt: string | null
}

const fail = (reason: VerifyReason): VerifyResult => ({valid: false, reason})

/**
 * Runs the checks of DESIGN.md in their order: structure, algorithm, key, signature, issuer,
 * audience (all cached per token string), then time, existence, revocation and scope on every
 * call.
 */
export class TokenVerifier {
  private readonly cache: SignatureCache<CheckedToken>
  private readonly now: () => number
  private keyring: Keyring

  constructor(private readonly config: VerifierConfig) {
    this.cache = new SignatureCache(config.cacheSize)
    this.now = config.now ?? Date.now
    this.keyring = config.keyring
  }

  /** The kids of the keys in use. */
  get kids(): string[] {
    return this.keyring.kids
  }

  /** Takes another key set: what the signature cache vouched for under the old one is dropped. */
  useKeyring(keyring: Keyring): void {
    this.keyring = keyring
    this.cache.clear()
  }

  async verify(token: string, options?: VerifyOptions): Promise<VerifyResult> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return fail('malformed')

    let checked = this.cache.get(token)
    if (checked === undefined) {
      const firstSight = await this.checkFirstSight(token)
      if (typeof firstSight === 'string') return fail(firstSight)
      checked = firstSight
      this.cache.set(token, checked)
    }

    const now = this.now()
    const {claims} = checked
    if (claims.nbf * 1000 > now) return this.refuse(claims.jti, 'not_yet_valid', now, options)
    if (claims.exp !== undefined && claims.exp * 1000 <= now) return this.refuse(claims.jti, 'expired', now, options)

    const found = this.config.lookup(claims, checked.foreignKid, token, options?.request)
    const state = found instanceof Promise ? await found : found
    if (state === undefined) return fail('unknown_token')
    const use = options?.purpose !== 'check'
    if (state.revokedAt !== null && state.revokedAt <= now) {
      if (use) await this.config.onRevokedUse?.(claims.jti, now)
      return this.refuse(claims.jti, 'revoked', now, options)
    }

    if (options?.requiredScopes && !grantsScopes(checked.scopes, options.requiredScopes)) {
      return this.refuse(claims.jti, 'insufficient_scope', now, options)
    }

    if (options?.account !== undefined && state.account !== null && state.account !== options.account) {
      return this.refuse(claims.jti, 'wrong_account', now, options)
    }

    let rateLimit: RateLimitStatus | undefined
    const request = options?.request
    const {restrictions} = checked
    if (request !== undefined && restrictions !== undefined) {
      const refusal = restrictions.check(request)
      if (refusal) return this.refuse(claims.jti, refusal, now, options)
      // Counted only where there is a store to count in: a JWKS-only verifier leaves it to the issuer.
      const counter = use ? this.config.countUse : this.config.peekUse
      if (restrictions.rateLimit && counter) {
        // A check asks whether one more use would pass: the count so far plus that one.
        rateLimit = await this.windowStatus(counter, claims.jti, restrictions.rateLimit, now, use ? 0 : 1)
        if (rateLimit.remaining < 0) return this.refuse(claims.jti, 'rate_limited', now, options, {...rateLimit, remaining: 0})
        if (!use) rateLimit.remaining += 1
        const counted = this.config.countAncestorUses?.(claims.jti, now, use ? 'use' : 'check')
        const ancestor = counted instanceof Promise ? await counted : counted
        if (ancestor) return this.refuse(claims.jti, 'rate_limited', now, options, ancestor)
      }
    }

    if (use) this.config.onVerified?.(claims.jti, now, request?.ip)
    const result: VerifyResult = {
      valid: true,
      id: claims.jti,
      subject: claims.sub,
      name: state.name,
      scopes: checked.scopes,
      expiresAt: checked.expiresAt,
      account: state.account,
      claims,
    }
    if (rateLimit) result.rateLimit = rateLimit
    return result
  }

  private refuse(jti: string, reason: VerifyReason, at: number, options: VerifyOptions | undefined, rateLimit?: RateLimitStatus): VerifyResult {
    if (options?.purpose !== 'check') this.config.onRefused?.(jti, reason, at, options?.request)
    return rateLimit ? {valid: false, reason, rateLimit} : {valid: false, reason}
  }

  /** Fixed windows aligned to the epoch, so every process agrees on where one starts. */
  private async windowStatus(
    counter: (jti: string, windowStart: number) => MaybePromise<number>,
    jti: string,
    limit: RateLimit,
    now: number,
    extra: number,
  ): Promise<RateLimitStatus> {
    const windowStart = Math.floor(now / 1000 / limit.timeWindow) * limit.timeWindow
    const counted = counter(jti, windowStart)
    const count = (counted instanceof Promise ? await counted : counted) + extra
    return {limit: limit.maxRequests, remaining: limit.maxRequests - count, resetAt: windowStart + limit.timeWindow}
  }

  private async checkFirstSight(token: string): Promise<CheckedToken | VerifyReason> {
    const segments = token.split('.')
    const [encodedHeader, encodedPayload, signature] = segments
    if (
      segments.length !== 3 ||
      !SEGMENT.test(encodedHeader!) ||
      !SEGMENT.test(encodedPayload!) ||
      !SIGNATURE_SEGMENT.test(signature!)
    ) {
      return 'malformed'
    }

    const header = decodeJsonSegment(encodedHeader!)
    const payload = decodeJsonSegment(encodedPayload!)
    if (header === undefined || payload === undefined || typeof header.alg !== 'string') return 'malformed'
    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
      return 'malformed'
    }

    if (!this.keyring.algorithms.has(header.alg)) return 'unsupported_alg'
    if (KEY_HEADERS.some((name) => name in header) || typeof header.kid !== 'string') return 'unknown_key'
    const key = this.keyring.get(header.kid) ?? (await this.refreshedKey(header.kid))
    if (key === undefined) return 'unknown_key'
    if (key.alg !== header.alg) return 'unsupported_alg'

    try {
      await compactVerify(token, key.key, {algorithms: [key.alg]})
    } catch (error) {
      return (error as {code?: string}).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'bad_signature' : 'malformed'
    }

    if (!hasClaimShapes(payload)) return 'malformed'
    // A key imported with a prepared token vouches only for its own issuer's iss and aud.
    const expected = key.foreign ?? this.config
    if (payload.iss !== expected.issuer) return 'wrong_issuer'
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : payload.aud
    if (!audiences.some((audience) => expected.audience.includes(audience))) return 'wrong_audience'

    const scopes = payload.scope === undefined || payload.scope === '' ? [] : payload.scope.split(' ')
    const expiresAt = payload.exp === undefined ? null : new Date(payload.exp * 1000).toISOString()
    const foreignKid = key.foreign ? key.kid : undefined
    const restrictions = payload.restrictions === undefined ? undefined : compileRestrictions(payload.restrictions)
    if (restrictions === null) return 'malformed'
    return {foreignKid, restrictions, claims: deepFreeze(payload), scopes: Object.freeze(scopes), expiresAt}
  }

  private async refreshedKey(kid: string): Promise<VerificationKey | undefined> {
    const fresh = await this.config.refreshKeys?.(this.keyring.kids)
    if (fresh === undefined) return undefined
    this.useKeyring(fresh)
    return fresh.get(kid)
  }
}

/** Our own restrictions claim, compiled; null when it is not one (a token we did not sign that way). */
function compileRestrictions(claim: unknown): CompiledRestrictions | null {
  try {
    const restrictions = normalizeRestrictions(claim as RestrictionsInput, {signed: true})
    return restrictions === null ? null : new CompiledRestrictions(restrictions)
  } catch {
    return null
  }
}

/** Frozen all the way down: every later verification of this string hands out the same objects. */
function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }

  return value
}

// Seconds since the epoch, up to the end of year 9999: anything larger is no date a token can carry.
const isNumericDate = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= LATEST_TIME_MS / 1000

/** Our tokens always carry these claims with these types; anything else is not one of ours. */
function hasClaimShapes(payload: Record<string, unknown>): payload is TokenClaims {
  const {aud, iat, iss, jti, nbf, sub, exp, scope} = payload
  return (
    (typeof aud === 'string' || (Array.isArray(aud) && aud.every((item) => typeof item === 'string'))) &&
    typeof iss === 'string' &&
    typeof sub === 'string' &&
    sub.length > 0 &&
    typeof jti === 'string' &&
    TOKEN_ID_PATTERN.test(jti) &&
    isNumericDate(iat) &&
    isNumericDate(nbf) &&
    (exp === undefined || isNumericDate(exp)) &&
    (scope === undefined || typeof scope === 'string') &&
    (payload.account === undefined || typeof payload.account === 'string') &&
    (payload.restrictions === undefined || (typeof payload.restrictions === 'object' && payload.restrictions !== null))
  )
}
