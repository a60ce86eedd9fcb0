import {Flags} from '@oclif/core'

const CREDENTIAL = 'CREDENTIAL'

/** The flags of every command that acts as the caller. */
export const credentialFlags = {
  token: Flags.string({
    description: 'use this token instead of a stored one ("-" reads it from stdin, out of shell history)',
    helpGroup: CREDENTIAL,
  }),
  profile: Flags.string({
    description: 'stored credential to use (default: CAPE_PROFILE, else the active profile)',
    helpGroup: CREDENTIAL,
  }),
  'no-input': Flags.boolean({description: 'never prompt for a token', helpGroup: CREDENTIAL}),
  'issuer-url': Flags.string({
    description: 'work against this cape issuer service (default: CAPE_ISSUER_URL, else the profile\'s, else this machine)',
    helpGroup: CREDENTIAL,
  }),
}

export const profileFlag = credentialFlags.profile
export const issuerUrlFlag = credentialFlags['issuer-url']

/** Those flags as parsed; a command may declare only some of them. */
export interface CredentialFlags {
  token?: string | undefined
  profile?: string | undefined
  'no-input'?: boolean | undefined
  'issuer-url'?: string | undefined
}
