import {CredentialCommand} from '../../cli/credential-command.js'
import {profileFlag} from '../../cli/credential-flags.js'
import {peekClaims} from '../../core/base64url-json.js'
import type {Credential, CredentialSource} from '../../credentials/types.js'
import {LATEST_TIME_MS} from '../../core/duration.js'

export interface AuthTokenResult {
  token: string
  source: CredentialSource
  profile: string | null
}

export default class AuthToken extends CredentialCommand {
  static override summary = 'Print the token cape would use, for scripts.'
  static override description = `The same sources as every other command (CAPE_TOKEN, ./.env, the OS keychain, the insecure file), never a prompt.
It prints the full token: pipe it, don't paste it.`

  static override examples = ['curl -H "Authorization: Bearer $(<%= config.bin %> <%= command.id %>)" https://cape.example/v1/whoami']

  static override flags = {profile: profileFlag}

  async run(): Promise<AuthTokenResult> {
    const {flags} = await this.parse(AuthToken)
    const credential = await this.resolveCredential({profile: flags.profile}, {prompt: false})
    this.warnFromClaims(credential)
    this.log(credential.token)
    return {token: credential.token, source: credential.source, profile: credential.profile ?? null}
  }

  // Printing must not depend on the issuer being reachable, so the expiry is read, not verified.
  private warnFromClaims(credential: Credential): void {
    const claims = peekClaims(credential.token)
    // Unverified: an exp no date can show is no expiry to warn about.
    if (typeof claims?.exp !== 'number' || !(Math.abs(claims.exp) <= LATEST_TIME_MS / 1000)) return
    const record = credential.profile === undefined ? undefined : this.credentials().profiles().record(credential.profile)
    const name = record && record.tokenId === claims.jti ? record.name : undefined
    this.warnIfExpiringSoon(credential, {name, expiresAt: new Date(claims.exp * 1000).toISOString()})
  }
}
