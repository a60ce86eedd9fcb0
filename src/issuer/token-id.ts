import {randomBytes} from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
export const TOKEN_ID_LENGTH = 22
export const TOKEN_ID_PATTERN = /^[0-9A-Za-z]{22}$/

// 248 = 4 × 62: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 248

/** A jti: 22 base62 characters from the CSPRNG, about 131 bits. */
export function newTokenId(): string {
  let id = ''
  while (id.length < TOKEN_ID_LENGTH) {
    for (const byte of randomBytes(32)) {
      if (byte < UNBIASED_LIMIT) id += BASE62[byte % 62]
      if (id.length === TOKEN_ID_LENGTH) break
    }
  }

  return id
}
