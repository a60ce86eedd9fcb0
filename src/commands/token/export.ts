import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'

export interface TokenExportResult {
  id: string
  bundle: string
}

export default class TokenExport extends BaseCommand {
  static override summary = 'Print a prepared-token bundle that lets another issuer accept this token.'
  static override description = `The bundle holds the token's metadata, the issuer's iss and aud, and the public key that signed it:
nothing secret, and not the token itself. Import it elsewhere with "cape token import", or hand it to
"cape issuer serve" as CAPE_PREPARED_TOKEN, so a fresh deployment accepts a token made in advance.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P',
    'CAPE_PREPARED_TOKEN=$(<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P) cape issuer serve',
  ]

  static override args = {
    id: Args.string({description: 'the token id (the ID column of `cape token list`)', required: true}),
  }

  async run(): Promise<TokenExportResult> {
    const {args} = await this.parse(TokenExport)
    const bundle = await (await this.issuer()).exportToken(args.id)
    this.log(bundle)
    return {id: args.id, bundle}
  }
}
