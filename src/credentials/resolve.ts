import {CapeError, isCapeError} from '../core/errors.js'
import {command, Wording, wording} from '../core/wording.js'
import {dotenvPath, readDotenvValue} from './dotenv.js'
import {DEFAULT_PROFILE, type ProfileRecord} from './profiles.js'
import type {Credential, SecretStore} from './types.js'

export interface ResolveInput {
  /** `--token`: the token itself, or "-" to read it from stdin. */
  tokenFlag: string | undefined
  profile: string
  /** What config.json says about the profile, if anything. */
  record: ProfileRecord | undefined
  env: NodeJS.ProcessEnv
  cwd: string
  keychain: SecretStore
  file: SecretStore
  readStdin: () => Promise<string>
  /** Absent when nobody may be asked (no TTY, --json, --no-input, CI). */
  prompt?: (() => Promise<string>) | undefined
}

/**
 * Finds the caller's own token. First match wins, the same for every command:
 * --token (or --token - for stdin) > CAPE_TOKEN > CAPE_TOKEN in ./.env > the OS keychain
 * (profile) > the insecure file (profile) > a masked prompt > not logged in.
 */
export async function resolveCredential(input: ResolveInput): Promise<Credential> {
  if (input.tokenFlag !== undefined) {
    if (input.tokenFlag === '-') return {token: await input.readStdin(), source: 'stdin', location: 'stdin (--token -)'}
    const token = input.tokenFlag.trim()
    if (token.length === 0) throw new CapeError('missing_input', '--token is empty: pass a token, or - to read it from stdin')
    return {token, source: 'flag', location: 'the --token flag'}
  }

  const fromEnv = input.env.CAPE_TOKEN?.trim()
  if (fromEnv) return {token: fromEnv, source: 'env', location: 'the CAPE_TOKEN environment variable'}

  const fromDotenv = readDotenvValue(input.cwd, 'CAPE_TOKEN')
  if (fromDotenv) return {token: fromDotenv, source: 'dotenv', location: `CAPE_TOKEN in ${dotenvPath(input.cwd)}`}

  const notes: Wording[] = []
  const stored = await readStored(input, notes)
  if (stored) return stored

  if (input.prompt) return {token: await input.prompt(), source: 'prompt', location: 'the prompt'}

  throw notLoggedIn(input.profile, notes)
}

/** The token stored for a profile (keychain, then file), or undefined. Errors of the store it lives in surface. */
export async function readStored(
  input: Pick<ResolveInput, 'profile' | 'record' | 'keychain' | 'file'>,
  notes: Wording[] = [],
): Promise<Credential | undefined> {
  const {profile, record} = input
  // A profile saved to the file never asks the keychain, so a machine without one pays nothing.
  if (record?.storage !== 'file') {
    try {
      const token = await input.keychain.get(profile)
      if (token) return {token, source: 'keychain', profile, location: input.keychain.describe(profile)}
      if (record?.storage === 'keychain') notes.push(Wording.of(`${input.keychain.describe(profile)} no longer holds its token`))
    } catch (error) {
      // It was saved there: say that the keychain failed, not that nobody is logged in.
      if (record?.storage === 'keychain' || !isCapeError(error)) throw error
      notes.push(error.wording)
    }
  }

  const token = await input.file.get(profile)
  if (token) return {token, source: 'file', profile, location: input.file.describe(profile)}
  return undefined
}

function notLoggedIn(profile: string, notes: readonly Wording[]): CapeError {
  const which = profile === DEFAULT_PROFILE ? '' : ` (profile "${profile}")`
  const login = profile === DEFAULT_PROFILE ? command('login') : command('login', '--profile', profile)
  const why = notes.length > 0 ? wording` (${Wording.join(notes, '; ')})` : ''
  return new CapeError('not_logged_in', wording`not logged in${which}${why}: run "${login}", pass --token, or set CAPE_TOKEN`)
}
