// Builds a store of N token rows: real tokens through the issuer, the rest bulk-inserted.
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'

import Database from 'better-sqlite3'

import {LocalIssuer} from '../../dist/issuer/local-issuer.js'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function fakeJti() {
  const bytes = randomBytes(22)
  let id = ''
  for (const byte of bytes) id += BASE62[byte % 62]
  return id
}

/** Returns the real tokens (signed, stored) and the database path once `total` rows exist. */
export async function buildStore(home, {total, real}) {
  const issuer = await LocalIssuer.open({home})
  const tokens = []
  for (let index = 0; index < real; index++) {
    tokens.push((await issuer.createToken({name: `bench-${index}`, description: 'benchmark token'})).token)
  }

  await issuer.close()

  const path = join(home, 'cape.db')
  const db = new Database(path)
  const {kid} = db.prepare('SELECT active_kid AS kid FROM issuer').get()
  const insert = db.prepare(
    `INSERT INTO tokens (jti, subject, name, description, scopes, kid, created_at, expires_at, revoked_at, last_used_at)
     VALUES (?, 'bench', ?, 'benchmark token', 'api', ?, ?, NULL, NULL, NULL)`,
  )
  const now = Date.now()
  const fill = db.transaction((count) => {
    for (let index = 0; index < count; index++) insert.run(fakeJti(), `filler-${index}`, kid, now - index)
  })
  for (let remaining = total - real; remaining > 0; remaining -= 100_000) fill(Math.min(remaining, 100_000))
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  return {tokens, path}
}

export const jtiOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti
