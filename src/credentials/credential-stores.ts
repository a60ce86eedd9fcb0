import {keychainTimeoutFromEnv, OsKeychain} from '../keychain/os-keychain.js'
import {InsecureFileStore} from './insecure-file.js'
import {ProfileConfig} from './profiles.js'
import type {SecretStore, StorageKind} from './types.js'

/**
 * The caller's own stored credentials under one data directory: which profile holds which token
 * (config.json), and the stores the tokens live in. Each is opened on first use.
 */
export class CredentialStores {
  private profileConfig: ProfileConfig | undefined
  private keychain: OsKeychain | undefined

  constructor(private readonly home: string) {}

  profiles(): ProfileConfig {
    this.profileConfig ??= ProfileConfig.load(this.home)
    return this.profileConfig
  }

  secretStore(kind: StorageKind): SecretStore {
    if (kind === 'file') return InsecureFileStore.in(this.home)
    this.keychain ??= new OsKeychain({timeoutMs: keychainTimeoutFromEnv()})
    return this.keychain
  }
}
