import {CapeError} from '../core/errors.js'
import {referrerPatternWithin} from './referrer-pattern.js'
import {addressRangeWithin, normalizeRestrictions, rateLimitWithin} from './restrictions.js'
import {delegatedScopes, grantsScopes} from './rules.js'
import type {Restrictions, RestrictionsInput} from './types.js'

/**
 * What a token may do. Whatever is done through a token (a token minted or rotated through it,
 * a token it lists, shows or revokes) stays within its authority on every one of these axes:
 * DESIGN.md's one rule, kept here and nowhere else.
 */
export interface Authority {
  subject: string
  scopes: readonly string[]
  /** The one account it may act on; null for any. */
  account: string | null
  restrictions: Restrictions | null
  /** Epoch milliseconds; null when it never expires. */
  expiresAt: number | null
}

export type AuthorityAxis = 'subject' | 'scopes' | 'account' | 'addresses' | 'referrers' | 'rate_limit' | 'expiry'

/** The scope that lets a resource server introspect the tokens of every subject (RFC 7662's purpose). */
export const INTROSPECT_SCOPE = 'introspect'

/** A token's authority from its record (or a verified token's own view of itself). */
export function authorityOf(token: {
  subject: string
  scopes: readonly string[]
  account: string | null
  restrictions: Restrictions | null | undefined
  expiresAt: string | null
}): Authority {
  return {
    subject: token.subject,
    scopes: token.scopes,
    account: token.account,
    restrictions: token.restrictions ?? null,
    expiresAt: token.expiresAt === null ? null : Date.parse(token.expiresAt),
  }
}

/**
 * Whether a caller may see a token at all: its own subject's, and, for a caller bound to an
 * account, that account's. Anything else is "not found" to it.
 */
export function canReach(caller: Authority, target: {subject: string; account: string | null}): boolean {
  return target.subject === caller.subject && (caller.account === null || target.account === caller.account)
}

/**
 * Whether a caller may introspect a token that claims this subject and account: within its
 * reach, or any subject's with scope `introspect`, and, for a caller bound to an account, that
 * account's only, whatever its scopes.
 */
export function mayIntrospect(caller: Authority, claimed: {subject: unknown; account: unknown}): boolean {
  const account = typeof claimed.account === 'string' ? claimed.account : null
  if (caller.account !== null && account !== caller.account) return false
  if (grantsScopes(caller.scopes, [INTROSPECT_SCOPE])) return true
  return typeof claimed.subject === 'string' && canReach(caller, {subject: claimed.subject, account})
}

/** The first axis on which `target` has more than `caller`; undefined when it is within. */
export function exceededAxis(target: Authority, caller: Authority): AuthorityAxis | undefined {
  if (target.subject !== caller.subject) return 'subject'
  if (!grantsScopes(caller.scopes, target.scopes)) return 'scopes'
  if (caller.account !== null && target.account !== caller.account) return 'account'

  const outer = caller.restrictions ?? {}
  const inner = target.restrictions ?? {}
  if (outer.addresses && !inner.addresses?.every((entry) => outer.addresses!.some((range) => addressRangeWithin(entry, range)))) {
    return 'addresses'
  }

  if (outer.referrers && !inner.referrers?.every((entry) => outer.referrers!.some((pattern) => referrerPatternWithin(entry, pattern)))) {
    return 'referrers'
  }

  if (outer.rateLimit && !(inner.rateLimit && rateLimitWithin(inner.rateLimit, outer.rateLimit))) return 'rate_limit'
  if (caller.expiresAt !== null && (target.expiresAt === null || target.expiresAt > caller.expiresAt)) return 'expiry'
  return undefined
}

/** What a token minted through another may be asked for. */
export interface DelegationRequest {
  scopes?: readonly string[] | undefined
  account?: string | undefined
  restrictions?: RestrictionsInput | undefined
  expiresInSeconds?: number | undefined
}

/** What it gets: ready for the issuer's createToken, with `notAfter` capping its expiry at the caller's. */
export interface Delegation {
  scopes: string[]
  account: string
  restrictions: RestrictionsInput
  expiresInSeconds: number | undefined
  notAfter: number | undefined
}

/**
 * The token a caller may mint through itself: what the request leaves out is the caller's
 * (account, each restriction, expiry); what it asks beyond the caller is refused, naming the axis.
 * Scopes keep the API's own rule: never a reserved one, never one the caller lacks.
 */
export function delegate(caller: Authority, request: DelegationRequest, now: number): Delegation {
  const account = request.account ?? caller.account
  if (account === null) {
    throw new CapeError('invalid_argument', 'a token minted through the API is bound to one account: give "account"')
  }

  const asked = request.restrictions ?? {}
  const inherited = caller.restrictions ?? {}
  const restrictions: RestrictionsInput = {
    addresses: asked.addresses ?? inherited.addresses,
    referrers: asked.referrers ?? inherited.referrers,
    rateLimit: asked.rateLimit ?? inherited.rateLimit,
  }
  // Bad input is told as such (400) before any refusal for authority (403).
  const normalized = normalizeRestrictions(restrictions)
  const scopes = delegatedScopes(caller.scopes, request.scopes)
  const {expiresInSeconds} = request
  // As minted: exp is the issue second plus the lifetime.
  const expiresAt = expiresInSeconds === undefined ? caller.expiresAt : (Math.floor(now / 1000) + expiresInSeconds) * 1000
  const child: Authority = {subject: caller.subject, scopes, account, restrictions: normalized, expiresAt}
  const axis = exceededAxis(child, caller)
  if (axis) throw exceeded(axis, 'a token minted through a token')
  return {scopes, account, restrictions, expiresInSeconds, notAfter: caller.expiresAt ?? undefined}
}

/** Refuses a rotation through `caller` of a token that holds more than the caller does. */
export function checkRotation(target: Authority, caller: Authority): void {
  const axis = exceededAxis(target, caller)
  if (axis) throw exceeded(axis, 'a token rotated through a token')
}

const AXIS_TEXT: Record<AuthorityAxis, string> = {
  subject: 'another subject',
  scopes: "scopes the caller's token does not hold",
  account: "another account than the caller's token is bound to",
  addresses: "addresses outside the caller's allowed ranges",
  referrers: "referrers beyond the caller's allowed patterns",
  rate_limit: "a looser rate limit than the caller's",
  expiry: "a later expiry than the caller's (or none)",
}

function exceeded(axis: AuthorityAxis, what: string): CapeError {
  const code = axis === 'scopes' ? 'scope_not_allowed' : 'authority_exceeded'
  return new CapeError(code, `${what} cannot hold more than it: this asks for ${AXIS_TEXT[axis]} (${axis})`, {reason: axis})
}
