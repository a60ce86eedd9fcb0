import {Flags} from '@oclif/core'

import {CredentialCommand} from '../cli/credential-command.js'
import {credentialFlags, issuerUrlFlag, profileFlag} from '../cli/credential-flags.js'
import {readSecretFromStdin} from '../credentials/stdin.js'
import {mayPrompt, promptSecret} from '../credentials/prompt.js'
import {saveCredential} from '../credentials/save-credential.js'
import type {StorageKind} from '../credentials/types.js'
import {CapeError} from '../core/errors.js'

export interface LoginResult {
  profile: string
  storage: StorageKind
  id: string
  name: string
  subject: string
  expiresAt: string | null
}

export default class Login extends CredentialCommand {
  static override summary = 'Keep your token in the OS keychain, after the issuer has checked it.'
  static override description = `The token is read from stdin (--with-token) or, in a terminal, from a masked prompt; never from the command line.
A token the issuer refuses is not stored. Without a keychain (no Secret Service, say), login refuses unless --insecure-storage is given.
The profile becomes the active one. With --issuer-url the issuer service checks the token, and the profile
remembers the URL: commands run with it then work against that service.`

  static override examples = [
    'echo "$TOKEN" | <%= config.bin %> <%= command.id %> --with-token',
    '<%= config.bin %> <%= command.id %> --profile work',
    '<%= config.bin %> <%= command.id %> --with-token --insecure-storage < token.txt',
    '<%= config.bin %> <%= command.id %> --issuer-url https://cape.example.com',
  ]

  static override flags = {
    'with-token': Flags.boolean({description: 'read the token from stdin'}),
    profile: profileFlag,
    'insecure-storage': Flags.boolean({
      description: 'keep the token in a plain-text file (0600) under CAPE_HOME instead of the OS keychain',
    }),
    'no-input': credentialFlags['no-input'],
    'issuer-url': issuerUrlFlag,
  }

  async run(): Promise<LoginResult> {
    const {flags} = await this.parse(Login)
    const profile = this.credentials().profiles().effectiveProfile(flags.profile)
    const storage: StorageKind = flags['insecure-storage'] ? 'file' : 'keychain'
    const token = await this.readToken(flags['with-token'], flags['no-input'])

    const issuerUrl = this.issuerUrl(flags)
    const issuer = issuerUrl === undefined ? await this.issuer() : this.remote(issuerUrl, token)
    const result = await issuer.verifyToken(token)
    if (!result.valid) {
      throw new CapeError('invalid_token', `the issuer refuses that token (${result.reason}): nothing was stored`, {
        reason: result.reason,
      })
    }

    const where = await saveCredential(this.credentials(), {profile, token, verified: result, storage, issuerUrl})
    this.warnIfExpiringSoon({token, source: storage, profile, location: where}, result)
    this.log(`Logged in as ${result.subject} with token "${result.name}" (${result.id}), profile "${profile}".`)
    this.log(`Stored in ${where}${issuerUrl === undefined ? '' : `, for the issuer at ${issuerUrl}`}.`)
    return {profile, storage, id: result.id, name: result.name, subject: result.subject, expiresAt: result.expiresAt}
  }

  private async readToken(withToken: boolean, noInput: boolean): Promise<string> {
    if (withToken) return readSecretFromStdin()
    if (mayPrompt({json: this.jsonEnabled(), noInput})) return promptSecret('Paste your cape token: ')
    throw new CapeError('missing_input', `no terminal to ask in: pipe the token in with "${this.commandLine('login', '--with-token')}"`)
  }
}
