// Token creation rate in-process, and what the store costs per token.
import {statSync} from 'node:fs'

import Database from 'better-sqlite3'

import {LocalIssuer} from '../dist/issuer/local-issuer.js'

export async function creationRate({home, count, databaseUrl}) {
  const issuer = await LocalIssuer.open({home, ...(databaseUrl && {databaseUrl})})
  try {
    await issuer.createToken({name: 'warm-up'})
    const started = performance.now()
    for (let index = 0; index < count; index++) await issuer.createToken({name: `rate-${index}`, description: 'rate'})
    return count / ((performance.now() - started) / 1000)
  } finally {
    await issuer.close()
  }
}

/** Bytes on disk per token row, after a checkpoint folds the WAL into the database file. */
export function bytesPerToken(path) {
  const db = new Database(path)
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
    const {rows} = db.prepare('SELECT count(*) AS rows FROM tokens').get()
    const size = statSync(path).size + (statSync(`${path}-wal`, {throwIfNoEntry: false})?.size ?? 0)
    return {rows, size, perToken: size / rows}
  } finally {
    db.close()
  }
}
