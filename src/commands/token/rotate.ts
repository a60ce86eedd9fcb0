import {Args} from '@oclif/core'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {durationFlag} from '../../cli/flags.js'
import {formatDate} from '../../core/time-text.js'
import type {RotatedToken} from '../../issuer/types.js'

export default class TokenRotate extends ClientCommand {
  static override summary = 'Replace a token with a new one and revoke the old one, now or after a grace period.'
  static override description = `The new token keeps the name, description, scopes, account, restrictions and lifetime (from now) of the old one.
Use of the old token after its revocation is taken as a leak: the new token is revoked too, and the trail ("cape token show") says so.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P',
    '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P --grace 1h --json',
  ]

  static override args = {
    id: Args.string({description: 'the token id (the ID column of `cape token list`)', required: true}),
  }

  static override flags = {
    grace: durationFlag({description: 'how long the old token keeps working, e.g. 1h (default: it stops at once)'}),
    ...credentialFlags,
  }

  async run(): Promise<RotatedToken> {
    const {args, flags} = await this.parse(TokenRotate)
    const issuer = await this.client(flags)
    const rotated = await issuer.rotateToken(args.id, {graceSeconds: flags.grace})
    this.log(`Success! Your token: ${rotated.token}`)
    if (!this.jsonEnabled()) {
      const {previous} = rotated
      const until = previous.status === 'revoked' ? 'is revoked' : `keeps working until ${formatDate(previous.revokedAt!)}`
      process.stderr.write(`It replaces ${previous.id}, which ${until}. Copy it now: cape cannot show it again.\n`)
    }

    return rotated
  }
}
