import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ProfileConfig, validateProfileName} from '../../credentials/profiles.js'
import {CapeError} from '../../core/errors.js'

export interface AuthSwitchResult {
  profile: string
  name: string
  id: string
}

export default class AuthSwitch extends BaseCommand {
  static override summary = 'Make another logged-in profile the active one.'
  static override examples = ['<%= config.bin %> <%= command.id %> work']

  static override args = {
    profile: Args.string({description: 'a profile saved by "cape login" or "cape token create --save"', required: true}),
  }

  async run(): Promise<AuthSwitchResult> {
    const {args} = await this.parse(AuthSwitch)
    const profile = validateProfileName(args.profile)
    const config = ProfileConfig.load(this.home())
    const record = config.record(profile)
    if (!record) {
      const known = config.profileNames()
      const hint = known.length > 0 ? `logged-in profiles: ${known.join(', ')}` : `log in with "${this.commandLine('login', '--profile', profile)}"`
      throw new CapeError('not_logged_in', `no profile "${profile}": ${hint}`)
    }

    config.setActive(profile)
    config.save()
    this.log(`Switched to profile "${profile}": token "${record.name}" (${record.tokenId}).`)
    if (process.env.CAPE_PROFILE && process.env.CAPE_PROFILE !== profile) {
      process.stderr.write(`Warning: CAPE_PROFILE=${process.env.CAPE_PROFILE} is set and wins over the active profile\n`)
    }

    return {profile, name: record.name, id: record.tokenId}
  }
}
