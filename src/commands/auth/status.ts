import {CredentialCommand} from '../../cli/credential-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {refusalOf} from '../../cli/credential-messages.js'
import {describeExpiry} from '../../cli/expiry-text.js'
import {maskToken} from '../../credentials/display.js'
import type {CredentialSource} from '../../credentials/types.js'
import {EXIT_CODES} from '../../core/errors.js'
import {escapeForTerminal} from '../../cli/terminal-text.js'

export interface AuthStatusResult {
  source: CredentialSource
  location: string
  profile: string | null
  insecure: boolean
  token: string
  valid: boolean
  reason?: string
  subject?: string
  id?: string
  name?: string
  scopes?: readonly string[]
  expiresAt?: string | null
  activeProfile: string
  profiles: string[]
}

export default class AuthStatus extends CredentialCommand {
  static override summary = 'Show which credential cape would use, where it comes from, and whether it is valid.'
  static override description = `Never prompts. The token is shown masked. Exit status as for whoami: 0 valid, 1 refused, 4 none.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  static override flags = {token: credentialFlags.token, profile: credentialFlags.profile}

  async run(): Promise<AuthStatusResult> {
    const {flags} = await this.parse(AuthStatus)
    const {credential, issuer, result} = await this.checkCredential(flags, {prompt: false})
    const config = this.credentials().profiles()
    const status: AuthStatusResult = {
      source: credential.source,
      location: credential.location,
      profile: credential.profile ?? null,
      insecure: credential.source === 'file',
      token: maskToken(credential.token),
      valid: result.valid,
      activeProfile: config.activeProfile,
      profiles: config.profileNames(),
    }

    const lines = [`Source:   ${credential.location}`, `Token:    ${status.token}`]
    if (result.valid) {
      Object.assign(status, {
        subject: result.subject,
        id: result.id,
        name: result.name,
        scopes: result.scopes,
        expiresAt: result.expiresAt,
      })
      lines.push(
        `Subject:  ${result.subject}`,
        `ID:       ${result.id}`,
        `Name:     ${result.name}`,
        `Scopes:   ${result.scopes.join(' ') || '(none)'}`,
        `Expires:  ${describeExpiry(result, 'dated')}`,
        'Status:   valid',
      )
      this.warnIfExpiringSoon(credential, result)
    } else {
      status.reason = result.reason
      lines.push(`Status:   refused by the issuer (${result.reason})`)
      process.exitCode = EXIT_CODES.failure
    }

    if (status.insecure) lines.push('Warning:  stored insecurely, in plain text, not in the OS keychain')
    if (status.profiles.length > 0) {
      const names = status.profiles.map((name) => (name === status.activeProfile ? `${name} (active)` : name))
      lines.push(`Profiles: ${names.join(', ')}`)
    }

    this.log(lines.join('\n'))
    if (!result.valid && !this.jsonEnabled()) {
      process.stderr.write(`${escapeForTerminal((await refusalOf(issuer, credential, result.reason, this.config.bin)).message)}\n`)
    }

    return status
  }
}
