import {SignJWT, type CryptoKey, type JWK} from 'jose'

import type {Algorithm} from '../core/token.js'
import {importKey} from './signing-key.js'

/** Signs with one private key, imported once per process. */
export class TokenSigner {
  static async load(privateJwk: JWK, kid: string, alg: Algorithm): Promise<TokenSigner> {
    return new TokenSigner(kid, alg, await importKey(privateJwk, alg))
  }

  private constructor(
    readonly kid: string,
    readonly alg: Algorithm,
    private readonly key: CryptoKey,
  ) {}

  sign(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({alg: this.alg, kid: this.kid, typ: 'JWT'}).sign(this.key)
  }
}
