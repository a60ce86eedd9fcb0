import {CredentialStores} from '../credentials/credential-stores.js'
import {mayPrompt, promptSecret} from '../credentials/prompt.js'
import {resolveCredential} from '../credentials/resolve.js'
import {readSecretFromStdin} from '../credentials/stdin.js'
import type {Credential} from '../credentials/types.js'
import type {IssuerClient} from '../issuer/types.js'
import {HttpIssuerClient} from '../remote/http-issuer-client.js'
import {checkIssuerUrl} from '../verifier/http-client.js'
import {BaseCommand} from './base-command.js'
import type {CredentialFlags} from './credential-flags.js'

/**
 * A command that works against an issuer as the caller: this machine's, or an issuer service
 * reached with the caller's credential, found in the documented chain of sources.
 */
export abstract class ClientCommand extends BaseCommand {
  private stores: CredentialStores | undefined

  /** The caller's stored credentials and profiles, under this CAPE_HOME. */
  protected credentials(): CredentialStores {
    this.stores ??= new CredentialStores(this.home())
    return this.stores
  }

  /**
   * The issuer commands talk to: the local one, or, in remote mode, the HTTP API with the
   * caller's credential as Bearer. A command calls this instead of issuer() when it works remotely too.
   */
  protected async client(flags: CredentialFlags): Promise<IssuerClient> {
    const url = this.issuerUrl(flags)
    if (url === undefined) return this.issuer()
    return this.remote(url, (await this.resolveCredential(flags)).token)
  }

  /**
   * The remote issuer to work against, if any: --issuer-url, else CAPE_ISSUER_URL, else the URL
   * the profile was logged in at. Undefined: the issuer on this machine.
   */
  protected issuerUrl(flags: CredentialFlags): string | undefined {
    const fromEnv = process.env.CAPE_ISSUER_URL || undefined
    const profiles = this.credentials().profiles()
    const url = flags['issuer-url'] ?? fromEnv ?? profiles.record(profiles.effectiveProfile(flags.profile))?.issuerUrl
    return url === undefined ? undefined : checkIssuerUrl(url)
  }

  protected remote(url: string, token: string): IssuerClient {
    return new HttpIssuerClient(url, token)
  }

  protected resolveCredential(flags: CredentialFlags, options: {prompt: boolean} = {prompt: true}): Promise<Credential> {
    const stores = this.credentials()
    const config = stores.profiles()
    const profile = config.effectiveProfile(flags.profile)
    const prompt =
      options.prompt && mayPrompt({json: this.jsonEnabled(), noInput: flags['no-input'] ?? false})
        ? () => promptSecret('Paste your cape token: ')
        : undefined
    return resolveCredential({
      tokenFlag: flags.token,
      profile,
      record: config.record(profile),
      env: process.env,
      cwd: process.cwd(),
      keychain: stores.secretStore('keychain'),
      file: stores.secretStore('file'),
      readStdin: () => readSecretFromStdin(),
      prompt,
    })
  }
}
