import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {JWK} from 'jose'

import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir, writePrivateFileAtomic} from '../fs/secure-files.js'
import {CapeError} from '../core/errors.js'

/** Private keys live one per file, `<kid>.private.jwk`, 0600 inside a 0700 directory. */
export function privateKeyPath(keysDir: string, kid: string): string {
  return join(keysDir, `${kid}.private.jwk`)
}

export function writePrivateKey(keysDir: string, kid: string, jwk: JWK): void {
  ensurePrivateDir(keysDir, {tighten: true})
  writePrivateFileAtomic(privateKeyPath(keysDir, kid), `${JSON.stringify(jwk)}\n`)
}

export function readPrivateKey(keysDir: string, kid: string): JWK {
  const path = privateKeyPath(keysDir, kid)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new CapeError('key_unavailable', `cannot read the signing key ${path}: ${describeFsError(error)}`, {
      cause: error,
    })
  }

  try {
    const jwk = JSON.parse(text) as JWK
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') throw new Error('not a private JWK')
    return jwk
  } catch (error) {
    throw new CapeError('key_unavailable', `the signing key ${path} is corrupt`, {cause: error})
  }
}
