// The PostgreSQL store's figures: token creation, a revocation reaching another instance, and a
// cached verification with a million tokens in the table against a bare in-memory Map lookup.
// Runs on a throwaway database at CAPE_TEST_PG_URL (the tests' admin URL); skipped without one.
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'

import postgres from 'postgres'

import {LocalIssuer} from '../dist/issuer/local-issuer.js'
import {creationRate} from './create.js'
import {asyncLoop, compareRates, syncLoop} from './lib/measure.js'
import {revocationPropagation} from './propagation.js'

export async function postgresFigures({work, adminUrl, total, count, iterations, log}) {
  const admin = postgres(adminUrl, {max: 1, onnotice: false})
  const name = `cape_bench_${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    await admin`SELECT 1`
  } catch (error) {
    await admin.end({timeout: 1})
    return {skipped: `no PostgreSQL at ${new URL(adminUrl).host} (${error.message})`}
  }

  await admin`CREATE DATABASE ${admin(name)}`
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.href
  try {
    log('PostgreSQL: creation rate')
    const created = await creationRate({home: join(work, 'pg-create'), count, databaseUrl})
    log('PostgreSQL: revocation seen by another instance')
    const propagation = await revocationPropagation({home: join(work, 'pg-propagation'), databaseUrl, count: 50})
    log(`PostgreSQL: cached verify with ${total.toLocaleString('en-US')} tokens`)
    const cached = await cachedVerifyAtScale({home: join(work, 'pg-verify'), databaseUrl, total, iterations})
    return {created, propagation, cached}
  } finally {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`.catch(() => undefined)
    await admin.end({timeout: 1})
  }
}

async function cachedVerifyAtScale({home, databaseUrl, total, iterations}) {
  const issuer = await LocalIssuer.open({home, databaseUrl})
  try {
    const tokens = []
    for (let index = 0; index < 1000; index++) tokens.push((await issuer.createToken({name: `bench-${index}`})).token)
    const sql = postgres(databaseUrl, {max: 1, onnotice: false})
    try {
      // The rest in one statement: ids of 22 characters, as cape's are, signed by the same key.
      await sql`
        INSERT INTO tokens (jti, subject, name, description, scopes, kid, created_at)
        SELECT substr(md5(i::text) || md5((i + 1)::text), 1, 22), 'bench', 'filler-' || i, 'benchmark token', 'api',
               (SELECT active_kid FROM issuer), ${Date.now()}::bigint - i
        FROM generate_series(1, ${total - tokens.length}) AS i`
    } finally {
      await sql.end({timeout: 1})
    }

    const states = new Map()
    for (const token of tokens) {
      const result = await issuer.verifyToken(token)
      if (!result.valid) throw new Error(`postgres bench: a fresh token did not verify (${result.reason})`)
      states.set(result.id, {name: result.name, revokedAt: null, account: null})
    }

    const ids = [...states.keys()]
    return await compareRates({
      a: asyncLoop((index) => issuer.verifyToken(tokens[index % tokens.length])),
      b: syncLoop((index) => states.get(ids[index % ids.length])),
      iterations,
    })
  } finally {
    await issuer.close()
  }
}
