import {Errors, type Hook} from '@oclif/core'

import {maskToken} from '../../credentials/display.js'
import {EXIT_CODES} from '../../core/errors.js'
import {redactTokens} from '../../core/token-shapes.js'
import {escapeForTerminal} from '../terminal-text.js'

/**
 * oclif's own answer repeats the words it could not place, joined into its internal id
 * (`command whoami:eyJ... not found`): a token passed where no argument goes would be printed
 * back. This one names them as they were typed, any token masked.
 */
const commandNotFound: Hook.CommandNotFound = async ({id, config}) => {
  const words = escapeForTerminal(redactTokens(id.replaceAll(':', ' '), maskToken))
  throw new Errors.CLIError(`"${words}" is not a ${config.bin} command: see "${config.bin} --help"`, {exit: EXIT_CODES.usage})
}

export default commandNotFound
