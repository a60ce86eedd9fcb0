import {Args, Flags} from '@oclif/core'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import type {RevokedToken} from '../../issuer/types.js'

export default class TokenDelete extends ClientCommand {
  static override summary = 'Revoke a token: it stops verifying at once, everywhere this issuer is asked.'
  static override description = `Tokens minted through it (over the API) live on unless --cascade revokes them too.`
  static override aliases = ['token:revoke']
  static override examples = [
    '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P',
    '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P --cascade',
  ]

  static override args = {
    id: Args.string({description: 'the token id (the ID column of `cape token list`)', required: true}),
  }

  static override flags = {
    cascade: Flags.boolean({description: 'also revoke every token minted through it, and through those'}),
    ...credentialFlags,
  }

  async run(): Promise<RevokedToken> {
    const {args, flags} = await this.parse(TokenDelete)
    const issuer = await this.client(flags)
    const revoked = await issuer.revokeToken(args.id, {cascade: flags.cascade})
    const cascaded = revoked.cascaded ?? []
    this.log(`Deleted token ${revoked.id}`)
    if (cascaded.length > 0) this.log(`and ${cascaded.length} token(s) minted through it: ${cascaded.join(', ')}`)
    return revoked
  }
}
