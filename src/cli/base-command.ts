import {Command} from '@oclif/core'

import type {LocalIssuer} from '../issuer/local-issuer.js'
import {maskToken} from '../credentials/display.js'
import {redactTokens} from '../core/token-shapes.js'
import {command} from '../core/wording.js'
import {reportError} from './errors.js'
import {escapeForTerminal} from './terminal-text.js'
import {capeHome} from './home.js'

/**
 * What every cape command shares: `--json`, the issuer opened lazily (so `--help` never loads
 * SQLite or crypto), one-line errors with documented exit codes, and the store closed at the end.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  private issuerPromise: Promise<LocalIssuer> | undefined

  /** CAPE_HOME, else oclif's data directory. */
  protected home(): string {
    return capeHome(this.config.dataDir)
  }

  /** Human output: whatever reaches the terminal is escaped; values escape their own newlines too. */
  override log(message = '', ...args: unknown[]): void {
    super.log(typeof message === 'string' ? escapeForTerminal(message, {keepNewlines: true}) : message, ...args)
  }

  /** A command line as the user types it: under the binary that runs this command, which may be a host CLI's. */
  protected commandLine(...words: string[]): string {
    return command(...words).under(this.config.bin)
  }

  /** The issuer on this machine; its store is the PostgreSQL database given, else CAPE_DATABASE_URL's, else SQLite in CAPE_HOME. */
  protected issuer(databaseUrl = process.env.CAPE_DATABASE_URL): Promise<LocalIssuer> {
    this.issuerPromise ??= import('../issuer/local-issuer.js').then(({LocalIssuer}) => LocalIssuer.open({home: this.home(), databaseUrl}))
    return this.issuerPromise
  }

  // oclif ignores error.oclif.exit under --json (oclif/core#1423), so the exit code is set here.
  protected override async catch(error: Error): Promise<void> {
    // A failed parse is still a parse: without this oclif adds an "UnparsedCommand" warning
    // under NODE_ENV=development or test.
    this.parsed = true
    const {exitCode, ...report} = reportError(error, this.config.bin)
    process.exitCode = exitCode
    if (this.jsonEnabled()) {
      this.logJson({error: report})
    } else {
      process.stderr.write(`Error: ${escapeForTerminal(report.message)}\n`)
    }

    if (process.env.DEBUG && error instanceof Error && error.stack) process.stderr.write(`${redactTokens(error.stack, maskToken)}\n`)
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    const issuer = await this.issuerPromise?.catch(() => undefined)
    await issuer?.close()
    await super.finally(error)
  }
}
