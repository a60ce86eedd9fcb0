import {Errors} from '@oclif/core'

import {maskToken} from '../credentials/display.js'
import {EXIT_CODES, isCapeError, type ErrorCode, type ExitCode} from '../core/errors.js'
import {redactTokens} from '../core/token-shapes.js'
import {PACKAGE_BIN} from '../core/wording.js'

export interface ErrorReport {
  code: ErrorCode
  message: string
  exitCode: ExitCode | number
  reason?: string
}

/**
 * Turns anything thrown into one line a user can read, a stable code and an exit status. The
 * commands it names are written under `bin`, the binary the user runs them as.
 */
export function reportError(error: unknown, bin: string): ErrorReport {
  if (isCapeError(error)) {
    // The commands under `bin`, inside whatever oclif wrapped around the message ("Parsing --flag ..." for a flag's error).
    const message = error.message.replace(error.wording.for(PACKAGE_BIN), () => error.wording.for(bin))
    const report: ErrorReport = {code: error.code, message: oneLine(message), exitCode: error.exitCode}
    if (error.reason !== undefined) report.reason = error.reason
    return report
  }

  if (error instanceof Errors.CLIError) {
    return {code: 'invalid_argument', message: oneLine(error.message), exitCode: error.oclif.exit ?? EXIT_CODES.usage}
  }

  const message = error instanceof Error ? error.message : String(error)
  return {
    code: 'internal',
    message: `unexpected error: ${oneLine(message)} (set DEBUG=cape to see where)`,
    exitCode: EXIT_CODES.internal,
  }
}

const OCLIF_FILLER = /^(See more help with --help|The following errors? occurred:)$/

// oclif folds a flag's parse error into "Parsing --flag \n\t<reason>\nSee more help with --help".
// A token among the arguments (oclif's "Unexpected argument: eyJ...") is masked, never repeated.
function oneLine(message: string): string {
  return redactTokens(message, maskToken)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !OCLIF_FILLER.test(line))
    .join(': ')
    .replace(/^Parsing (--[\w-]+):/, '$1:')
}
