import {BlockList, isIP} from 'node:net'

import {CapeError} from '../core/errors.js'
import {CompiledReferrerPattern, normalizeReferrerPattern} from './referrer-pattern.js'
import {validateLabel} from './rules.js'
import type {RateLimit, RequestContext, Restrictions, RestrictionsInput} from './types.js'

export const RESTRICTION_LIMITS = {entries: 64, referrer: 500, maxRequests: 1_000_000_000, timeWindow: 366 * 86_400} as const

/**
 * Checks and normalises restrictions as given to `token create` or `POST /v1/tokens`; `false`
 * (the HTTP API's "none") and empty lists drop a restriction. Null when nothing is left.
 * `signed`: restrictions read back from a token's claim, whose referrer patterns may predate
 * their validation (such a pattern then matches nothing).
 */
export function normalizeRestrictions(input: RestrictionsInput, options: {signed?: boolean} = {}): Restrictions | null {
  const restrictions: Restrictions = {}
  if (input.addresses && input.addresses.length > 0) {
    restrictions.addresses = unique(input.addresses.map((entry) => normalizeAddress(entry)), 'addresses')
  }

  if (input.referrers && input.referrers.length > 0) {
    restrictions.referrers = unique(
      input.referrers.map((entry) => {
        const label = validateLabel('referrer pattern', entry, RESTRICTION_LIMITS.referrer)
        return options.signed ? label : normalizeReferrerPattern(label)
      }),
      'referrers',
    )
  }

  if (input.rateLimit) {
    const {maxRequests, timeWindow} = input.rateLimit
    if (!Number.isSafeInteger(maxRequests) || maxRequests < 1 || maxRequests > RESTRICTION_LIMITS.maxRequests) {
      throw new CapeError('invalid_argument', `rate limit: maxRequests must be a whole number from 1 to ${RESTRICTION_LIMITS.maxRequests}`)
    }

    if (!Number.isSafeInteger(timeWindow) || timeWindow < 1 || timeWindow > RESTRICTION_LIMITS.timeWindow) {
      throw new CapeError('invalid_argument', 'rate limit: timeWindow must be a whole number of seconds from 1 to 366 days')
    }

    restrictions.rateLimit = {maxRequests, timeWindow}
  }

  return Object.keys(restrictions).length === 0 ? null : restrictions
}

/** `100/60s`, `5000/1h`: the CLI's --rate-limit. */
export function parseRateLimit(value: string, parseDuration: (text: string) => number): RateLimit {
  const match = /^(\d{1,10})\/(.+)$/.exec(value.trim())
  if (!match) throw new CapeError('invalid_argument', `invalid rate limit "${value}": use MAX/WINDOW, e.g. 100/60s or 5000/1h`)
  return {maxRequests: Number(match[1]), timeWindow: parseDuration(match[2]!)}
}

/** An address or CIDR range in canonical form; IPv4-mapped IPv6 counts as the IPv4 address. */
export function normalizeAddress(entry: string): string {
  const [address, prefix, extra] = entry.trim().split('/')
  const plain = unmapIPv4(address ?? '')
  const family = isIP(plain)
  const bits = family === 4 ? 32 : 128
  const valid =
    family !== 0 && extra === undefined && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits))
  if (!valid) {
    throw new CapeError('invalid_argument', `"${entry}" is not an IPv4 or IPv6 address or CIDR range (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)`)
  }

  return prefix === undefined ? plain : `${plain}/${Number(prefix)}`
}

/** A client's address as a request reports it (no range): checked before it is used or stored. */
export function checkRequestAddress(ip: string, what = 'the address'): string {
  const plain = ip.length <= 64 ? unmapIPv4(ip.trim()) : ''
  if (isIP(plain) === 0) throw new CapeError('invalid_argument', `${what} is not an IPv4 or IPv6 address`)
  return plain
}

function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1]! : address
}

function unique(entries: string[], what: string): string[] {
  const distinct = [...new Set(entries)]
  if (distinct.length > RESTRICTION_LIMITS.entries) {
    throw new CapeError('invalid_argument', `too many ${what}: at most ${RESTRICTION_LIMITS.entries}`)
  }

  return distinct
}

/** Restrictions made ready to check a request against, once per distinct set. */
export class CompiledRestrictions {
  private readonly addresses: BlockList | undefined
  private readonly referrers: readonly CompiledReferrerPattern[] | undefined
  readonly rateLimit: RateLimit | undefined

  constructor(restrictions: Restrictions) {
    if (restrictions.addresses) {
      const list = new BlockList()
      for (const entry of restrictions.addresses) {
        const [address, prefix] = entry.split('/') as [string, string | undefined]
        const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
        if (prefix === undefined) list.addAddress(address, type)
        else list.addSubnet(address, Number(prefix), type)
      }

      this.addresses = list
    }

    this.referrers = restrictions.referrers?.map((pattern) => new CompiledReferrerPattern(pattern))
    this.rateLimit = restrictions.rateLimit
  }

  /** The refusal a request earns before rate limiting, if any. */
  check(request: RequestContext): 'ip_not_allowed' | 'referrer_not_allowed' | undefined {
    if (this.addresses && !this.allowsAddress(request.ip)) return 'ip_not_allowed'
    if (this.referrers) {
      const referrer = request.referrer
      if (typeof referrer !== 'string' || !this.referrers.some((pattern) => pattern.matches(referrer))) return 'referrer_not_allowed'
    }

    return undefined
  }

  private allowsAddress(ip: string | undefined): boolean {
    if (ip === undefined) return false
    const address = unmapIPv4(ip)
    const family = isIP(address)
    return family !== 0 && this.addresses!.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/** Whether the address or CIDR range `child` lies inside `parent` (both as normalizeAddress gives them). */
export function addressRangeWithin(child: string, parent: string): boolean {
  const inner = parseRange(child)
  const outer = parseRange(parent)
  if (inner.bits !== outer.bits || outer.prefix > inner.prefix) return false
  const shift = BigInt(outer.bits - outer.prefix)
  return inner.value >> shift === outer.value >> shift
}

/** Whether `child` never allows more than `parent`: no larger burst, no higher average rate. */
export function rateLimitWithin(child: RateLimit, parent: RateLimit): boolean {
  // Cross-multiplied in BigInt: 1e9 requests × 366 days of seconds is past 2^53.
  return (
    child.maxRequests <= parent.maxRequests &&
    BigInt(child.maxRequests) * BigInt(parent.timeWindow) <= BigInt(parent.maxRequests) * BigInt(child.timeWindow)
  )
}

function parseRange(entry: string): {value: bigint; bits: number; prefix: number} {
  const [address, prefix] = entry.split('/') as [string, string | undefined]
  const bits = isIP(address) === 4 ? 32 : 128
  return {value: bits === 32 ? ipv4Value(address) : ipv6Value(address), bits, prefix: prefix === undefined ? bits : Number(prefix)}
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n)
}

function ipv6Value(address: string): bigint {
  let text = address.split('%')[0]!
  const tail = text.lastIndexOf(':')
  if (text.includes('.', tail)) {
    const v4 = ipv4Value(text.slice(tail + 1))
    text = `${text.slice(0, tail + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }

  const [head = '', rest] = text.split('::') as [string, string | undefined]
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  const before = groups(head)
  const after = rest === undefined ? [] : groups(rest)
  const all = [...before, ...Array.from({length: 8 - before.length - after.length}, () => '0'), ...after]
  return all.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16)), 0n)
}
