import {Flags} from '@oclif/core'

import {ClientCommand} from '../cli/client-command.js'
import {profileFlag} from '../cli/credential-flags.js'
import {peekClaims} from '../core/base64url-json.js'
import {DEFAULT_PROFILE} from '../credentials/profiles.js'
import {readStored} from '../credentials/resolve.js'
import type {Credential} from '../credentials/types.js'
import {CapeError} from '../core/errors.js'

export interface LogoutResult {
  profile: string
  /** The token id, when cape knew it. */
  id: string | null
  revoked: boolean
}

export default class Logout extends ClientCommand {
  static override summary = 'Forget the stored token of a profile; with --revoke, revoke it at the issuer too.'
  static override description = `Without --revoke the token keeps working wherever else it is used, until it expires or is revoked.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --revoke',
    '<%= config.bin %> <%= command.id %> --profile work',
  ]

  static override flags = {
    profile: profileFlag,
    revoke: Flags.boolean({description: 'revoke the token at the issuer before forgetting it'}),
  }

  async run(): Promise<LogoutResult> {
    const {flags} = await this.parse(Logout)
    const stores = this.credentials()
    const config = stores.profiles()
    const profile = config.effectiveProfile(flags.profile)
    const record = config.record(profile)
    const keychain = stores.secretStore('keychain')
    const file = stores.secretStore('file')
    const stored = await readStored({profile, record, keychain, file})
    if (!stored && !record) {
      const which = profile === DEFAULT_PROFILE ? '' : ` for profile "${profile}"`
      throw new CapeError('not_logged_in', `no token is stored${which}: nothing to log out of`)
    }

    // Revoke first: if the issuer refuses, nothing is forgotten and the user can try again.
    let revoked = false
    if (flags.revoke) {
      if (!stored) {
        throw new CapeError(
          'not_logged_in',
          `profile "${profile}" no longer holds a token, so there is nothing to revoke: run "${this.commandLine('logout')}" without --revoke to forget it`,
        )
      }

      revoked = await this.revoke(stored, this.issuerUrl({profile}))
    }

    if (stored?.source === 'keychain' || record?.storage === 'keychain') await keychain.delete(profile)
    await file.delete(profile)
    config.removeRecord(profile)
    // Logging out of the active profile hands over to another one, as gh does with accounts.
    const successor = config.activeProfile === profile ? config.profileNames()[0] : undefined
    if (successor) config.setActive(successor)
    config.save()

    const id = record?.tokenId ?? idOf(stored)
    const name = record ? `"${record.name}" (${record.tokenId})` : (id ?? 'the token')
    this.log(`Logged out of profile "${profile}".`)
    if (revoked) this.log(`Token ${name} is revoked.`)
    else if (!flags.revoke && id) this.log(`Token ${name} still works; "${this.commandLine('token', 'delete', id)}" revokes it.`)

    if (successor) this.log(`Profile "${successor}" is now active.`)
    return {profile, id, revoked}
  }

  /** True when this call revoked it; false when it already was. */
  private async revoke(stored: Credential, issuerUrl: string | undefined): Promise<boolean> {
    // At the issuer the token was logged in to; there a token may always revoke itself.
    const issuer = issuerUrl === undefined ? await this.issuer() : this.remote(issuerUrl, stored.token)
    const result = await issuer.verifyToken(stored.token)
    if (!result.valid && result.reason === 'revoked') {
      this.log('The token was already revoked.')
      return false
    }

    // An expired token passed the signature check before failing, so its jti is the issuer's own.
    const id = result.valid ? result.id : result.reason === 'expired' ? idOf(stored) : null
    if (!id) {
      throw new CapeError(
        'invalid_token',
        `the issuer does not recognise the stored token (${result.valid ? 'no id' : result.reason}), so it cannot revoke it: nothing was changed; "${this.commandLine('logout')}" without --revoke forgets it`,
        result.valid ? {} : {reason: result.reason},
      )
    }

    await issuer.revokeToken(id)
    return true
  }
}

function idOf(stored: Credential | undefined): string | null {
  const jti = stored && peekClaims(stored.token)?.jti
  return typeof jti === 'string' ? jti : null
}
