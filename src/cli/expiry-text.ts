import {expiringWithin} from '../credentials/expiry.js'
import {describeSpan, formatDate, relativeTime} from '../core/time-text.js'
import type {TokenRecord} from '../issuer/types.js'

/**
 * A token's expiry in words; `never` without one. `relative`, for the token table and `token show`:
 * "in 29 days", with "(soon)" within the 7 days your own token is warned about and "(expired)" past
 * it. `dated`, for `auth status`: the date, with the time left within those 7 days.
 */
export function describeExpiry(
  token: {expiresAt: string | null; status?: TokenRecord['status']},
  form: 'relative' | 'dated',
  now = Date.now(),
): string {
  const {expiresAt, status} = token
  if (status === 'invalid') return 'invalid'
  if (expiresAt === null) return 'never'
  const left = expiringWithin(expiresAt, now)
  if (form === 'dated') return left === undefined ? formatDate(expiresAt) : `${formatDate(expiresAt)} (in ${describeSpan(left, 'nearest')})`

  const relative = relativeTime(expiresAt, now)
  if (status === 'expired' || Date.parse(expiresAt) <= now) return `${relative} (expired)`
  return left === undefined ? relative : `${relative} (soon)`
}
