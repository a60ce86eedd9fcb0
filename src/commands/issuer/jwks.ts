import {BaseCommand} from '../../cli/base-command.js'
import type {Jwks} from '../../issuer/types.js'

export default class IssuerJwks extends BaseCommand {
  static override summary = "Print the issuer's public keys as a JWKS, for services that verify tokens themselves."
  static override examples = ['<%= config.bin %> <%= command.id %> > jwks.json']

  async run(): Promise<Jwks> {
    await this.parse(IssuerJwks)
    const jwks = await (await this.issuer()).jwks()
    this.log(JSON.stringify(jwks, null, 2))
    return jwks
  }
}
