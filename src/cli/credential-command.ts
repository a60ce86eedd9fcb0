import type {Credential} from '../credentials/types.js'
import type {IssuerClient, VerifyResult} from '../issuer/types.js'
import {ClientCommand} from './client-command.js'
import type {CredentialFlags} from './credential-flags.js'
import {expiryWarning, refusalOf} from './credential-messages.js'
import {escapeForTerminal} from './terminal-text.js'

export type ValidResult = Extract<VerifyResult, {valid: true}>

/** A command about the caller's own credential: it verifies it, and warns when it expires soon. */
export abstract class CredentialCommand extends ClientCommand {
  /**
   * Resolves the caller's credential and verifies it, without judging the result. The keychain
   * answers from a child process, so the verifier loads meanwhile rather than after. In remote
   * mode the issuer service checks it.
   */
  protected async checkCredential(
    flags: CredentialFlags,
    options: {prompt: boolean} = {prompt: true},
  ): Promise<{credential: Credential; issuer: IssuerClient; result: VerifyResult}> {
    const url = this.issuerUrl(flags)
    if (url !== undefined) {
      const credential = await this.resolveCredential(flags, options)
      const issuer = this.remote(url, credential.token)
      return {credential, issuer, result: await issuer.verifyToken(credential.token)}
    }

    const opening = this.issuer().then(async (issuer) => {
      await issuer.prepareToVerify()
      return issuer
    })
    opening.catch(() => {}) // handled when awaited below; unawaited only when resolving failed first
    const credential = await this.resolveCredential(flags, options)
    const issuer = await opening
    return {credential, issuer, result: await issuer.verifyToken(credential.token)}
  }

  /** Resolves the caller's credential and verifies it: refused with a message that says what to do. */
  protected async authenticate(flags: CredentialFlags): Promise<{credential: Credential; verified: ValidResult}> {
    const {credential, issuer, result} = await this.checkCredential(flags)
    if (!result.valid) throw await refusalOf(issuer, credential, result.reason, this.config.bin)
    this.warnIfExpiringSoon(credential, result)
    return {credential, verified: result}
  }

  /** The 7-day warning on stderr. `name` is undefined when cape cannot vouch for which token it is. */
  protected warnIfExpiringSoon(credential: Credential, token: {name?: string | undefined; expiresAt: string | null}): void {
    const warning = expiryWarning(credential, token, this.config.bin, Date.now())
    // The name may come from a remote issuer: nothing in it reaches the terminal as a control.
    if (warning !== undefined) process.stderr.write(`${escapeForTerminal(warning)}\n`)
  }
}
