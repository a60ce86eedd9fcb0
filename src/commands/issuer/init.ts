import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {databaseUrlFlag, durationFlag} from '../../cli/flags.js'
import {describeSettings} from '../../cli/issuer-settings.js'
import {DEFAULT_ALGORITHM, DEFAULT_ISSUER} from '../../issuer/defaults.js'
import {ALGORITHMS, SECRET_STORAGES, type Algorithm, type IssuerSettings} from '../../issuer/types.js'

export default class IssuerInit extends BaseCommand {
  static override summary = 'Set up the local issuer: its identifier, audience, algorithm and first signing key.'
  static override description = `Optional: the issuer sets itself up with the defaults when the first token is created.
Settings cannot change once the issuer exists (but for the lifetime policy: "cape issuer config"); use another CAPE_HOME for another issuer.
With --key-storage keychain the private signing keys live in the OS keychain instead of 0600 files.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --issuer https://tokens.example.com --audience example-api --alg ES256',
  ]

  static override flags = {
    issuer: Flags.string({description: 'issuer identifier (iss claim)', default: DEFAULT_ISSUER}),
    audience: Flags.string({description: 'audience (aud claim; repeatable)', multiple: true}),
    alg: Flags.string({description: 'signing algorithm', options: [...ALGORITHMS], default: DEFAULT_ALGORITHM}),
    subject: Flags.string({description: 'default subject (sub claim); default: your OS user name'}),
    'max-lifetime': durationFlag({description: 'no token may live longer, e.g. 90d; tokens made without --expires-in get this lifetime'}),
    'key-storage': Flags.option({options: SECRET_STORAGES, description: 'where the private signing keys are kept', default: 'file'})(),
    'database-url': databaseUrlFlag,
  }

  async run(): Promise<IssuerSettings> {
    const {flags} = await this.parse(IssuerInit)
    const issuer = await this.issuer(flags['database-url'])
    const settings = await issuer.init({
      issuer: flags.issuer,
      audience: flags.audience,
      algorithm: flags.alg as Algorithm,
      defaultSubject: flags.subject,
      maxLifetimeSeconds: flags['max-lifetime'],
      keyStorage: flags['key-storage'],
    })

    this.log(`Issuer ready: ${describeSettings(settings)}`)
    return settings
  }
}
