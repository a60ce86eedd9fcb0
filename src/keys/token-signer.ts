import {SignJWT, type CryptoKey} from 'jose'

import type {Algorithm} from '../issuer/types.js'
import {readPrivateKey} from './private-key-file.js'
import {importKey} from './signing-key.js'

/** Signs with one private key, read from its file and imported once per process. */
export class TokenSigner {
  static async load(keysDir: string, kid: string, alg: Algorithm): Promise<TokenSigner> {
    return new TokenSigner(kid, alg, await importKey(readPrivateKey(keysDir, kid), alg))
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
