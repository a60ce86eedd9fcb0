import {Args} from '@oclif/core'

import {credentialFlags, CredentialCommand} from '../../cli/credential-command.js'
import type {TokenRecord} from '../../issuer/types.js'

export default class TokenDelete extends CredentialCommand {
  static override summary = 'Revoke a token: it stops verifying at once, everywhere this issuer is asked.'
  static override aliases = ['token:revoke']
  static override examples = ['<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P']

  static override args = {
    id: Args.string({description: 'the token id (the ID column of `cape token list`)', required: true}),
  }

  static override flags = {...credentialFlags}

  async run(): Promise<TokenRecord> {
    const {args, flags} = await this.parse(TokenDelete)
    const issuer = await this.client(flags)
    const revoked = await issuer.revokeToken(args.id)
    this.log(`Deleted token ${revoked.id}`)
    return revoked
  }
}
