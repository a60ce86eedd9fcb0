import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {readSecretFromStdin} from '../../credentials/stdin.js'
import type {TokenRecord} from '../../issuer/types.js'

export interface TokenImportResult {
  imported: boolean
  token: TokenRecord
}

export default class TokenImport extends BaseCommand {
  static override summary = 'Accept a token made by another issuer, from its "cape token export" bundle.'
  static override description = `The bundle's public key verifies only the tokens imported with it. Importing the same bundle again
changes nothing, and never brings back a token revoked here since.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> cape1.eyJ2IjoxLC...',
    'cape token export ID | CAPE_HOME=/srv/cape <%= config.bin %> <%= command.id %> -',
  ]

  static override args = {
    bundle: Args.string({description: 'the bundle from "cape token export", or - to read it from stdin', required: true}),
  }

  async run(): Promise<TokenImportResult> {
    const {args} = await this.parse(TokenImport)
    const bundle = args.bundle === '-' ? await readSecretFromStdin('bundle') : args.bundle
    const result = await (await this.issuer()).importToken(bundle)
    const {token} = result
    this.log(
      result.imported
        ? `Imported token "${token.name}" (${token.id})`
        : `Token "${token.name}" (${token.id}) was already imported; nothing changed${token.status === 'active' ? '' : ` (it is ${token.status})`}`,
    )
    return result
  }
}
