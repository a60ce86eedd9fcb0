import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {durationFlag, scopeFlag} from '../../cli/flags.js'
import type {CreatedToken} from '../../issuer/types.js'

export default class TokenCreate extends BaseCommand {
  static override summary = 'Create a personal access token and print it once.'
  static override description = `The token is a signed JWT. Only its metadata is stored, so it cannot be shown again: copy it now.
Scopes default to "api"; "*" grants every scope.`

  static override examples = [
    "<%= config.bin %> <%= command.id %> --name ci --description 'for the deploy pipeline'",
    '<%= config.bin %> <%= command.id %> -n laptop --scope api --scope tokens --expires-in 90d',
    '<%= config.bin %> <%= command.id %> -n ci --json',
  ]

  static override flags = {
    name: Flags.string({char: 'n', description: 'name to recognise the token by', required: true}),
    description: Flags.string({char: 'd', description: 'what the token is for'}),
    scope: scopeFlag({char: 's', description: 'scope to grant (repeatable; default: api)'}),
    'expires-in': durationFlag({description: 'lifetime, e.g. 30d, 12h, 1h30m (default: no expiry)'}),
    subject: Flags.string({description: "subject (sub claim); default: the issuer's default subject"}),
  }

  async run(): Promise<CreatedToken> {
    const {flags} = await this.parse(TokenCreate)
    const issuer = await this.issuer()
    const created = await issuer.createToken({
      name: flags.name,
      description: flags.description,
      scopes: flags.scope,
      expiresInSeconds: flags['expires-in'],
      subject: flags.subject,
    })

    this.log(`Success! Your token: ${created.token}`)
    if (!this.jsonEnabled()) {
      process.stderr.write('Copy it now: cape keeps only its metadata and cannot show it again.\n')
    }

    return created
  }
}
