import type {Credential} from './types.js'

/** Enough to recognise a token, too little to use it: `eyJhbGci…x7Qk`. */
export function maskToken(token: string): string {
  if (token.length < 24) return '…'
  return `${token.slice(0, 8)}…${token.slice(-4)}`
}

/** The short name of a source, as `whoami` and `--json` show it. */
export function sourceLabel(credential: Credential): string {
  switch (credential.source) {
    case 'flag':
      return '--token'
    case 'stdin':
      return '--token - (stdin)'
    case 'env':
      return 'CAPE_TOKEN'
    case 'dotenv':
      return '.env'
    case 'keychain':
      return `keychain (profile ${credential.profile})`
    case 'file':
      return `insecure file (profile ${credential.profile})`
    case 'prompt':
      return 'prompt'
  }
}
