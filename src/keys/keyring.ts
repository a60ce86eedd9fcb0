import type {CryptoKey, JWK} from 'jose'

import type {Algorithm} from '../core/token.js'
import {importKey} from './signing-key.js'

/** A public key as the store keeps it (its JWK as JSON text). */
export interface PublicKeyRecord {
  kid: string
  alg: Algorithm
  publicJwk: string
  retiredAt: number | null
  foreign: {issuer: string; audience: readonly string[]} | null
}

export interface VerificationKey {
  kid: string
  alg: Algorithm
  key: CryptoKey
  /** For a key imported with a prepared token: the iss and aud its tokens must carry instead of ours. */
  foreign?: {issuer: string; audience: readonly string[]} | null | undefined
}

/** The issuer's public keys, imported once; the only keys a token may name in its `kid`. */
export class Keyring {
  static async load(stored: readonly PublicKeyRecord[]): Promise<Keyring> {
    const usable = stored.filter((key) => key.retiredAt === null)
    const keys = await Promise.all(
      usable.map(async (key) => {
        const jwk = JSON.parse(key.publicJwk) as JWK
        return {kid: key.kid, alg: key.alg, key: await importKey(jwk, key.alg), foreign: key.foreign}
      }),
    )
    return new Keyring(keys)
  }

  readonly algorithms: ReadonlySet<string>
  private readonly byKid: ReadonlyMap<string, VerificationKey>

  /** A keyring of keys already imported, e.g. from a remote JWKS. */
  static of(keys: readonly VerificationKey[]): Keyring {
    return new Keyring(keys)
  }

  private constructor(keys: readonly VerificationKey[]) {
    this.byKid = new Map(keys.map((key) => [key.kid, key]))
    this.algorithms = new Set(keys.map((key) => key.alg))
  }

  get(kid: string): VerificationKey | undefined {
    return this.byKid.get(kid)
  }

  /** The kids, sorted: two keyrings with the same ones hold the same keys (a kid is a thumbprint). */
  get kids(): string[] {
    return [...this.byKid.keys()].sort()
  }
}
