import {BaseCommand} from '../../cli/base-command.js'
import {lifetimePolicyFlag} from '../../cli/flags.js'
import {describeSettings} from '../../cli/issuer-settings.js'
import type {IssuerSettings} from '../../issuer/types.js'

export default class IssuerConfig extends BaseCommand {
  static override summary = "Show the issuer's settings, or change its lifetime policy."
  static override description = `--max-lifetime applies to tokens created (or rotated) from now on; tokens already made keep their expiry.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --max-lifetime 90d',
    '<%= config.bin %> <%= command.id %> --max-lifetime none',
  ]

  static override flags = {
    'max-lifetime': lifetimePolicyFlag({description: 'the longest lifetime a new token may have, or "none"'}),
  }

  async run(): Promise<IssuerSettings> {
    const {flags} = await this.parse(IssuerConfig)
    const issuer = await this.issuer()
    const settings =
      flags['max-lifetime'] === undefined
        ? ((await issuer.settings()) ?? (await issuer.init()))
        : await issuer.setMaxLifetime(flags['max-lifetime'])
    this.log(describeSettings(settings))
    return settings
  }
}
