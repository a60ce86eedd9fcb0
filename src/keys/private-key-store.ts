import {existsSync, rmSync} from 'node:fs'

import type {JWK} from 'jose'

import {CapeError} from '../core/errors.js'
import type {KeyStorage} from '../core/token.js'
import {privateKeyPath, readPrivateKey, writePrivateKey} from './private-key-file.js'

/** The keychain service under which signing keys are kept, one entry per kid. */
export const SIGNING_KEY_SERVICE = 'cape-signing-keys'

/** Where an issuer keeps its private signing keys: 0600 files, or the OS keychain. */
export interface PrivateKeyStore {
  write(kid: string, jwk: JWK): Promise<void>
  read(kid: string): Promise<JWK>
  /** Whether this machine holds the key; a key kept elsewhere (another instance's) is not an error. */
  has(kid: string): Promise<boolean>
  remove(kid: string): Promise<void>
}

export async function privateKeyStore(storage: KeyStorage, keysDir: string): Promise<PrivateKeyStore> {
  if (storage === 'file') {
    return {
      write: async (kid, jwk) => writePrivateKey(keysDir, kid, jwk),
      read: async (kid) => readPrivateKey(keysDir, kid),
      has: async (kid) => existsSync(privateKeyPath(keysDir, kid)),
      remove: async (kid) => rmSync(privateKeyPath(keysDir, kid), {force: true}),
    }
  }

  const {OsKeychain, keychainTimeoutFromEnv} = await import('../keychain/os-keychain.js')
  const keychain = new OsKeychain({service: SIGNING_KEY_SERVICE, timeoutMs: keychainTimeoutFromEnv()})
  return {
    write: (kid, jwk) => keychain.set(kid, JSON.stringify(jwk)),
    async read(kid) {
      const stored = await keychain.get(kid)
      if (stored === null) throw new CapeError('key_unavailable', `the signing key ${kid} is not in ${keychain.describe(kid)}`)
      return JSON.parse(stored) as JWK
    },
    has: async (kid) => (await keychain.get(kid)) !== null,
    remove: async (kid) => void (await keychain.delete(kid)),
  }
}
