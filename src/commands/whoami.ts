import {CredentialCommand} from '../cli/credential-command.js'
import {credentialFlags} from '../cli/credential-flags.js'
import {escapeForTerminal} from '../cli/terminal-text.js'
import {sourceLabel} from '../credentials/display.js'
import type {CredentialSource} from '../credentials/types.js'

export interface WhoamiResult {
  subject: string
  id: string
  name: string
  scopes: readonly string[]
  expiresAt: string | null
  source: CredentialSource
  profile: string | null
}

export default class Whoami extends CredentialCommand {
  static override summary = 'Show who your token says you are, and where it came from.'
  static override description = `Exit status 0 when the token is valid, 1 (with the reason) when the issuer refuses it, 4 when there is no token.
The token comes from, first match first: --token, CAPE_TOKEN, CAPE_TOKEN in ./.env, the OS keychain, the insecure file, a prompt.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'CAPE_TOKEN=eyJ... <%= config.bin %> <%= command.id %> --json',
    'echo "$TOKEN" | <%= config.bin %> <%= command.id %> --token -',
  ]

  static override flags = {...credentialFlags}

  async run(): Promise<WhoamiResult> {
    const {flags} = await this.parse(Whoami)
    const {credential, verified} = await this.authenticate(flags)
    this.log(escapeForTerminal(verified.subject))
    this.log(escapeForTerminal(`token:  ${verified.id} ("${verified.name}")`))
    this.log(`source: ${sourceLabel(credential)}`)
    return {
      subject: verified.subject,
      id: verified.id,
      name: verified.name,
      scopes: verified.scopes,
      expiresAt: verified.expiresAt,
      source: credential.source,
      profile: credential.profile ?? null,
    }
  }
}
