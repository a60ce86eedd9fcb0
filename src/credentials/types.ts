import type {SecretStorage} from '../core/token.js'

/** Where the caller's own token came from, in the order they are tried. */
export type CredentialSource = 'flag' | 'stdin' | 'env' | 'dotenv' | 'keychain' | 'file' | 'prompt'

export interface Credential {
  token: string
  source: CredentialSource
  /** The profile a stored credential belongs to (keychain or file). */
  profile?: string
  /** Where exactly, for people: "CAPE_TOKEN in /repo/.env", "OS keychain (service cape, account default)". */
  location: string
}

/** Where a profile's token is kept. */
export type StorageKind = SecretStorage

/** A place that keeps one token per profile. */
export interface SecretStore {
  readonly kind: StorageKind
  /** For people: where the token for `profile` lives. */
  describe(profile: string): string
  get(profile: string): Promise<string | null>
  set(profile: string, token: string): Promise<void>
  /** True when something was deleted. */
  delete(profile: string): Promise<boolean>
}
