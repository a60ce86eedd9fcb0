import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {DEFAULT_ALGORITHM, DEFAULT_ISSUER} from '../../issuer/defaults.js'
import {ALGORITHMS, type Algorithm, type IssuerSettings} from '../../issuer/types.js'

export default class IssuerInit extends BaseCommand {
  static override summary = 'Set up the local issuer: its identifier, audience, algorithm and first signing key.'
  static override description = `Optional: the issuer sets itself up with the defaults when the first token is created.
Settings cannot change once the issuer exists; use another CAPE_HOME for another issuer.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --issuer https://tokens.example.com --audience example-api --alg ES256',
  ]

  static override flags = {
    issuer: Flags.string({description: 'issuer identifier (iss claim)', default: DEFAULT_ISSUER}),
    audience: Flags.string({description: 'audience (aud claim; repeatable)', multiple: true}),
    alg: Flags.string({description: 'signing algorithm', options: [...ALGORITHMS], default: DEFAULT_ALGORITHM}),
    subject: Flags.string({description: 'default subject (sub claim); default: your OS user name'}),
  }

  async run(): Promise<IssuerSettings> {
    const {flags} = await this.parse(IssuerInit)
    const issuer = await this.issuer()
    const settings = await issuer.init({
      issuer: flags.issuer,
      audience: flags.audience,
      algorithm: flags.alg as Algorithm,
      defaultSubject: flags.subject,
    })

    this.log(`Issuer ready: ${settings.issuer} (alg ${settings.algorithm}, audience ${settings.audience.join(', ')}, subject ${settings.defaultSubject})`)
    return settings
  }
}
