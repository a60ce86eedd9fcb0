import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {importJWK, SignJWT, type CryptoKey, type JWK} from 'jose'

import {LocalIssuer} from '../../src/issuer/local-issuer.js'
import {tempHome} from './cli.js'

/** A real issuer in a temp CAPE_HOME with a clock the test can move. */
export async function openTestIssuer(): Promise<{
  issuer: LocalIssuer
  home: string
  clock: {now: number}
  cleanup: () => Promise<void>
}> {
  const dir = tempHome()
  const clock = {now: Date.now()}
  const issuer = await LocalIssuer.open({home: dir.home, now: () => clock.now})
  return {
    issuer,
    home: dir.home,
    clock,
    cleanup: async () => {
      await issuer.close()
      dir.cleanup()
    },
  }
}

/** The issuer's own private key, read as an attacker who stole it (or a test) would. */
export async function stolenSigningKey(home: string): Promise<{key: CryptoKey; kid: string}> {
  const keysDir = join(home, 'keys')
  const [file] = readdirSync(keysDir)
  const jwk = JSON.parse(readFileSync(join(keysDir, file!), 'utf8')) as JWK
  return {key: (await importJWK(jwk, 'EdDSA')) as CryptoKey, kid: jwk.kid!}
}

export function decodeSegment(token: string, index: 0 | 1): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8'))
}

export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export async function signWith(
  key: CryptoKey | Uint8Array,
  header: Record<string, unknown> & {alg: string},
  claims: Record<string, unknown>,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key)
}
