import {CapeError} from '../core/errors.js'
import {wording} from '../core/wording.js'
import type {CredentialStores} from './credential-stores.js'
import type {StorageKind} from './types.js'

/** What the profile records about a token it keeps; never the token. */
export interface SavedTokenFacts {
  id: string
  name: string
  subject: string
  expiresAt: string | null
}

export interface SaveCredentialInput {
  profile: string
  token: string
  /** What the issuer said of the token, once it had checked it. */
  verified: SavedTokenFacts
  storage: StorageKind
  /** The issuer service the token belongs to; undefined for this machine's. */
  issuerUrl: string | undefined
}

/**
 * Keeps a verified token for `profile` where asked, drops any copy in the other store, and makes
 * the profile the active one. Nothing is recorded unless the token was stored. Returns where it is.
 */
export async function saveCredential(stores: CredentialStores, input: SaveCredentialInput): Promise<string> {
  const {profile, storage} = input
  const config = stores.profiles()
  const target = stores.secretStore(storage)
  try {
    await target.set(profile, input.token)
  } catch (error) {
    throw storage === 'keychain' ? withFileHint(error) : error
  }

  // Leave no second copy behind: a stale one would shadow or outlive this token.
  if (storage === 'keychain') await stores.secretStore('file').delete(profile)
  else if (config.record(profile)?.storage === 'keychain') await stores.secretStore('keychain').delete(profile)

  config.setRecord(profile, {
    storage,
    tokenId: input.verified.id,
    name: input.verified.name,
    subject: input.verified.subject,
    expiresAt: input.verified.expiresAt,
    savedAt: new Date().toISOString(),
    ...(input.issuerUrl === undefined ? {} : {issuerUrl: input.issuerUrl}),
  })
  config.setActive(profile)
  config.save()
  return target.describe(profile)
}

/** Fails early, before anything is created, when the chosen store cannot take a token. */
export async function checkStorage(stores: CredentialStores, profile: string, storage: StorageKind): Promise<void> {
  if (storage === 'file') return
  try {
    await stores.secretStore('keychain').get(profile)
  } catch (error) {
    throw withFileHint(error)
  }
}

function withFileHint(error: unknown): unknown {
  if (!(error instanceof CapeError) || error.code !== 'keychain_unavailable') return error
  return new CapeError(
    'keychain_unavailable',
    wording`${error.wording}. Nothing was stored; --insecure-storage keeps the token in a plain-text file (0600) instead`,
    {cause: error},
  )
}
