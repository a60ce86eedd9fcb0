import {Flags} from '@oclif/core'

import {parseDuration} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import type {RateLimit} from '../core/token.js'
import {checkReferrer} from '../issuer/referrer-pattern.js'
import {checkRequestAddress, normalizeAddress, parseRateLimit} from '../issuer/restrictions.js'
import {validateScope} from '../issuer/rules.js'

/** A server timeout, in seconds: a duration of at most a day (Node's timers take no more). */
export const timeoutFlag = Flags.custom<number>({
  helpValue: '<duration>',
  parse: async (input) => {
    const seconds = parseDuration(input)
    if (seconds > 86_400) throw new CapeError('invalid_duration', `invalid timeout "${input}": at most 1d`)
    return seconds
  },
})

/** The PostgreSQL database to use instead of SQLite in CAPE_HOME; the variable keeps its password out of the process list. */
export const databaseUrlFlag = Flags.string({
  description: 'PostgreSQL database to keep tokens and keys in, postgres://USER:PASSWORD@HOST:PORT/DB (default: SQLite in CAPE_HOME)',
  env: 'CAPE_DATABASE_URL',
  helpValue: '<url>',
})

/** A lifetime such as 30d or 1h30m, in seconds; a bad one fails while flags are parsed. */
export const durationFlag = Flags.custom<number>({
  helpValue: '<duration>',
  parse: async (input) => parseDuration(input),
})

/** One scope per use of the flag; repeat the flag for more (`--scope a b` would swallow an argument). */
export const scopeFlag = Flags.custom<string>({
  helpValue: '<scope>',
  multiple: true,
  multipleNonGreedy: true,
  parse: async (input) => validateScope(input),
})

/** An address or CIDR range, checked while flags are parsed. */
export const addressFlag = Flags.custom<string>({
  helpValue: '<address|cidr>',
  multiple: true,
  multipleNonGreedy: true,
  parse: async (input) => normalizeAddress(input),
})

/** One client address, as a request would come from (no range). */
export const requestAddressFlag = Flags.custom<string>({
  helpValue: '<address>',
  parse: async (input) => checkRequestAddress(input),
})

/** A Referer URL, as a request would carry it. */
export const referrerFlag = Flags.custom<string>({
  helpValue: '<url>',
  parse: async (input) => checkReferrer(input),
})

/** MAX/WINDOW, e.g. 100/60s. */
export const rateLimitFlag = Flags.custom<RateLimit>({
  helpValue: '<max>/<window>',
  parse: async (input) => parseRateLimit(input, parseDuration),
})

/** A lifetime, or "none" for no limit: the issuer's lifetime policy. */
export const lifetimePolicyFlag = Flags.custom<number | null>({
  helpValue: '<duration>|none',
  parse: async (input) => (input.trim().toLowerCase() === 'none' ? null : parseDuration(input)),
})
