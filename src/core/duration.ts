import {CapeError} from './errors.js'

const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
}

/** Longest lifetime accepted at all; lifetime policies below this are the issuer's business. */
export const MAX_LIFETIME_SECONDS = 100 * UNIT_SECONDS.y!

/** The last instant any date in cape may name (the end of year 9999): past it, dates do not render. */
export const LATEST_TIME_MS = 253_402_300_799_999

/**
 * A lifetime or grace period in whole seconds, as a library caller or a JSON number gives it:
 * from 1 second to 100 years, or refused before anything is stored.
 */
export function checkSeconds(what: string, seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_LIFETIME_SECONDS) {
    throw new CapeError('invalid_duration', `${what} must be a whole number of seconds from 1 to ${MAX_LIFETIME_SECONDS} (100y)`)
  }

  return seconds
}

const DURATION = /^(?:\d{1,9}[smhdwy])+$/

/** Parses `90d`, `12h`, `1h30m`, `2w` into seconds. */
export function parseDuration(input: string): number {
  const text = input.trim().toLowerCase()
  if (!DURATION.test(text)) {
    throw new CapeError(
      'invalid_duration',
      `invalid duration "${input}": use a number and a unit (s, m, h, d, w, y), e.g. 30d or 1h30m`,
    )
  }

  let seconds = 0
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdwy])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit!]!
  }

  if (seconds <= 0) throw new CapeError('invalid_duration', `invalid duration "${input}": it must be longer than zero`)
  if (seconds > MAX_LIFETIME_SECONDS) {
    throw new CapeError('invalid_duration', `invalid duration "${input}": the longest allowed is 100y`)
  }

  return seconds
}

/** Seconds as an exact duration `parseDuration` reads back, in days rather than weeks: `90d`, `1h30m`, `45s`. */
export function describeDuration(seconds: number): string {
  let left = seconds
  let text = ''
  for (const unit of ['y', 'd', 'h', 'm', 's']) {
    const size = UNIT_SECONDS[unit]!
    if (left >= size) {
      text += `${Math.floor(left / size)}${unit}`
      left %= size
    }
  }

  return text || '0s'
}
