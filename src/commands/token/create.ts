import {Flags} from '@oclif/core'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {addressFlag, durationFlag, rateLimitFlag, scopeFlag} from '../../cli/flags.js'
import {checkStorage, saveCredential} from '../../credentials/save-credential.js'
import type {StorageKind} from '../../credentials/types.js'
import type {CreatedToken, IssuerClient, TokenRecord} from '../../issuer/types.js'

const RESTRICTIONS = 'RESTRICTIONS (checked on every request to the issuer service)'

export type TokenCreateResult = CreatedToken | (TokenRecord & {saved: {profile: string; storage: StorageKind}})

export default class TokenCreate extends ClientCommand {
  static override summary = 'Create a personal access token and print it once.'
  static override description = `The token is a signed JWT. Only its metadata is stored, so it cannot be shown again: copy it now.
Scopes default to "api"; "*" grants every scope.
With --save the token goes straight into the OS keychain as your own credential instead of to the screen.`

  static override examples = [
    "<%= config.bin %> <%= command.id %> --name ci --description 'for the deploy pipeline'",
    '<%= config.bin %> <%= command.id %> -n laptop --scope api --scope tokens --expires-in 90d',
    '<%= config.bin %> <%= command.id %> -n ci --json',
    '<%= config.bin %> <%= command.id %> -n laptop --expires-in 90d --save',
    '<%= config.bin %> <%= command.id %> -n frontend --allow-ip 203.0.113.0/24 --allow-referrer "https://app.example.com/*" --rate-limit 100/60s',
  ]

  static override flags = {
    name: Flags.string({char: 'n', description: 'name to recognise the token by', required: true}),
    description: Flags.string({char: 'd', description: 'what the token is for'}),
    scope: scopeFlag({char: 's', description: 'scope to grant (repeatable; default: api)'}),
    'expires-in': durationFlag({description: 'lifetime, e.g. 30d, 12h, 1h30m (default: no expiry)'}),
    subject: Flags.string({description: "subject (sub claim); default: the issuer's default subject"}),
    account: Flags.string({description: 'bind the token to this one account: it is refused (wrong_account) for any other'}),
    'allow-ip': addressFlag({description: 'accept it only from this address or CIDR range (repeatable; IPv4 or IPv6)', helpGroup: RESTRICTIONS}),
    'allow-referrer': Flags.string({
      description: 'accept it only from pages whose Referer matches this pattern, * for anything (repeatable)',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: RESTRICTIONS,
    }),
    'rate-limit': rateLimitFlag({description: 'at most MAX requests per WINDOW, e.g. 100/60s (HTTP 429 beyond)', helpGroup: RESTRICTIONS}),
    save: Flags.boolean({description: 'keep the token in the OS keychain as your credential (and make its profile active)'}),
    ...credentialFlags,
    profile: Flags.string({
      description: 'the profile whose credential and issuer URL to use, and to store it as with --save (default: the active one)',
    }),
    'insecure-storage': Flags.boolean({
      description: 'with --save: a plain-text file (0600) under CAPE_HOME instead of the OS keychain',
      dependsOn: ['save'],
    }),
  }

  async run(): Promise<TokenCreateResult> {
    const {flags} = await this.parse(TokenCreate)
    const storage: StorageKind = flags['insecure-storage'] ? 'file' : 'keychain'
    const profile = flags.save ? this.credentials().profiles().effectiveProfile(flags.profile) : undefined
    // Before anything is created: a token that cannot be kept must not exist.
    if (profile) await checkStorage(this.credentials(), profile, storage)

    const issuer = await this.client(flags)
    const created = await issuer.createToken({
      name: flags.name,
      description: flags.description,
      scopes: flags.scope,
      expiresInSeconds: flags['expires-in'],
      subject: flags.subject,
      account: flags.account,
      restrictions: {addresses: flags['allow-ip'], referrers: flags['allow-referrer'], rateLimit: flags['rate-limit']},
    })

    if (profile) return this.save(issuer, created, {profile, storage, issuerUrl: this.issuerUrl(flags)})

    this.log(`Success! Your token: ${created.token}`)
    if (!this.jsonEnabled()) {
      process.stderr.write('Copy it now: cape keeps only its metadata and cannot show it again.\n')
    }

    return created
  }

  private async save(
    issuer: IssuerClient,
    created: CreatedToken,
    where: {profile: string; storage: StorageKind; issuerUrl: string | undefined},
  ): Promise<TokenCreateResult> {
    const {token, ...record} = created
    const {profile, storage} = where
    let location: string
    try {
      location = await saveCredential(this.credentials(), {token, verified: created, ...where})
    } catch (error) {
      // Nobody has seen this token and nobody will: revoke it rather than leave it live.
      await issuer.revokeToken(created.id).catch(() => undefined)
      throw error
    }

    this.log(`Success! Created token "${created.name}" (${created.id}) and stored it in ${location}, profile "${profile}".`)
    if (!this.jsonEnabled()) process.stderr.write(`It is your credential now; "${this.commandLine('auth', 'token')}" prints it for scripts.\n`)
    return {...record, saved: {profile, storage}}
  }
}
