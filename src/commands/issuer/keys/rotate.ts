import {BaseCommand} from '../../../cli/base-command.js'
import type {SigningKeyInfo} from '../../../issuer/types.js'

export default class IssuerKeysRotate extends BaseCommand {
  static override summary = 'Make a new signing key the active one; the old keys keep verifying their tokens.'
  static override description = `New tokens are signed with the new key. The old keys stay in the JWKS until retired ("cape issuer keys retire KID").
Running servers pick the change up within a second.`

  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<SigningKeyInfo> {
    await this.parse(IssuerKeysRotate)
    const key = await (await this.issuer()).rotateSigningKey()
    this.log(`New active signing key ${key.kid} (${key.alg})`)
    return key
  }
}
