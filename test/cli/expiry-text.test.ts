import {describe, expect, it} from 'vitest'

import {describeExpiry} from '../../src/cli/expiry-text.js'

const NOW = Date.parse('2030-01-10T12:00:00Z')
const DAY = 86_400_000
const at = (ms: number) => new Date(NOW + ms).toISOString()

describe('describeExpiry', () => {
  it('words the table (rounded down) and auth status (rounded to the nearest) from one place', () => {
    const soon = {expiresAt: at(3 * DAY - 60_000), status: 'active' as const}
    expect(describeExpiry(soon, 'relative', NOW)).toBe('in 2 days (soon)')
    expect(describeExpiry(soon, 'dated', NOW)).toBe('Jan 13 2030 11:59 (in 3 days)')

    const later = {expiresAt: at(40 * DAY), status: 'active' as const}
    expect(describeExpiry(later, 'relative', NOW)).toBe('in 1 month')
    expect(describeExpiry(later, 'dated', NOW)).toBe('Feb 19 2030 12:00')

    expect(describeExpiry({expiresAt: at(-30_000), status: 'expired'}, 'relative', NOW)).toBe('less than a minute ago (expired)')
    expect(describeExpiry({expiresAt: null, status: 'active'}, 'relative', NOW)).toBe('never')
    expect(describeExpiry({expiresAt: null}, 'dated', NOW)).toBe('never')
    expect(describeExpiry({expiresAt: at(DAY), status: 'invalid'}, 'relative', NOW)).toBe('invalid')
  })
})
