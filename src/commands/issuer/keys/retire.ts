import {Args} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import type {SigningKeyInfo} from '../../../issuer/types.js'

export default class IssuerKeysRetire extends BaseCommand {
  static override summary = 'Retire a signing key: its tokens stop verifying (unknown_key) and the JWKS drops it.'
  static override description = `The active key cannot be retired: rotate first. The retired key's private half is deleted.
Running servers stop accepting its tokens within a second; services verifying with the JWKS, when they next fetch it.`

  static override examples = ['<%= config.bin %> <%= command.id %> 9Fgr1eazjJA8wLh_2kXK4YIcWJwvnD45dvUO0lvWqf4']

  static override args = {
    kid: Args.string({description: 'the key id (the KID column of `cape issuer keys list`)', required: true}),
  }

  async run(): Promise<SigningKeyInfo> {
    const {args} = await this.parse(IssuerKeysRetire)
    const key = await (await this.issuer()).retireSigningKey(args.kid)
    this.log(`Retired signing key ${key.kid}: its tokens no longer verify`)
    return key
  }
}
