import {peekClaims} from '../core/base64url-json.js'
import {CapeError} from '../core/errors.js'
import {describeSpan, formatDate} from '../core/time-text.js'
import {command} from '../core/wording.js'
import {expiringWithin} from '../credentials/expiry.js'
import {DEFAULT_PROFILE} from '../credentials/profiles.js'
import type {Credential} from '../credentials/types.js'
import type {IssuerClient} from '../issuer/types.js'

/** Why the caller's credential is refused, naming the token where the verifier vouched for it, and what to do, under `bin`. */
export async function refusalOf(issuer: IssuerClient, credential: Credential, reason: string, bin: string): Promise<CapeError> {
  const known = reason === 'expired' || reason === 'revoked' ? await nameOf(issuer, credential.token) : undefined
  if (!known) {
    return new CapeError('invalid_token', `the token from ${credential.location} is not valid (${reason})${fixFor(credential, bin)}`, {reason})
  }

  const what = `your token "${known.name}" (${known.id})`
  const when = reason === 'revoked' ? 'has been revoked' : known.expiresAt ? `expired on ${formatDate(known.expiresAt)}` : 'has expired'
  return new CapeError('invalid_token', `${what} ${when}${fixFor(credential, bin, known.name)}`, {reason})
}

/**
 * The warning for a token within 7 days of its expiry, else undefined. `name` is undefined when
 * cape cannot vouch for which token it is.
 */
export function expiryWarning(
  credential: Credential,
  token: {name?: string | undefined; expiresAt: string | null},
  bin: string,
  now: number,
): string | undefined {
  const left = expiringWithin(token.expiresAt, now)
  if (left === undefined) return undefined
  const which = token.name === undefined ? `from ${credential.location}` : `"${token.name}"`
  return `Warning: your token ${which} expires in ${describeSpan(left, 'nearest')} (${formatDate(token.expiresAt!)})${fixFor(credential, bin, token.name, 'replace it with')}`
}

function fixFor(credential: Credential, bin: string, name?: string, lead = 'create a new one with'): string {
  const profile = credential.profile && credential.profile !== DEFAULT_PROFILE ? ['--profile', credential.profile] : []
  const login = command('login', ...profile).under(bin)
  switch (credential.source) {
    case 'keychain':
    case 'file':
    case 'prompt':
      return name
        ? `: ${lead} "${command('token', 'create', '--name', name, '--save', ...profile).under(bin)}", or store another with "${login}"`
        : `: store a valid one with "${login}"`
    case 'env':
      return ': set CAPE_TOKEN to a valid token'
    case 'dotenv':
      return `: replace ${credential.location}`
    default:
      return ''
  }
}

async function nameOf(issuer: IssuerClient, token: string): Promise<{id: string; name: string; expiresAt: string | null} | undefined> {
  const jti = peekClaims(token)?.jti
  if (typeof jti !== 'string') return undefined
  try {
    const record = await issuer.getToken(jti)
    return {id: record.id, name: record.name, expiresAt: record.expiresAt}
  } catch {
    return undefined
  }
}
