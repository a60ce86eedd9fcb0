import {Flags} from '@oclif/core'

import {parseDuration} from '../issuer/duration.js'
import {validateScope} from '../issuer/rules.js'

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
