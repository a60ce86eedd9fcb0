import {calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK} from 'jose'

import type {Algorithm, PublicJwk} from '../core/token.js'

export interface GeneratedSigningKey {
  kid: string
  alg: Algorithm
  publicJwk: PublicJwk
  privateJwk: JWK
}

const GENERATE_OPTIONS: Record<Algorithm, {crv?: string; modulusLength?: number}> = {
  EdDSA: {crv: 'Ed25519'},
  ES256: {},
  RS256: {modulusLength: 3072},
}

/** A fresh key pair whose kid is its RFC 7638 thumbprint, so the kid names exactly one key. */
export async function generateSigningKey(alg: Algorithm): Promise<GeneratedSigningKey> {
  const {privateKey, publicKey} = await generateKeyPair(alg, {...GENERATE_OPTIONS[alg], extractable: true})
  const exportedPublic = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(exportedPublic, 'sha256')
  const publicJwk: PublicJwk = {...exportedPublic, kty: exportedPublic.kty!, kid, alg, use: 'sig'}
  const privateJwk: JWK = {...(await exportJWK(privateKey)), kid, alg}
  return {kid, alg, publicJwk, privateJwk}
}

export async function importKey(jwk: JWK, alg: Algorithm): Promise<CryptoKey> {
  const key = await importJWK(jwk, alg)
  if (key instanceof Uint8Array) throw new TypeError('symmetric keys are never used for signing')
  return key
}
