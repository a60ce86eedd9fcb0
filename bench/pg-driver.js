// Which PostgreSQL driver the store uses (issue 13): node-postgres (`pg`, pure JavaScript, no
// pg-native) against porsager's `postgres`, on the store's own statements and schema (from dist/),
// each on a throwaway database:
//   read    the per-verification token-state read by primary key (a prepared statement)
//   count   the rate-limit window upsert, INSERT ... ON CONFLICT DO UPDATE ... RETURNING count
//   insert  a token row (one commit each, as `token create` does)
// with synchronous_commit off for the session, as the store runs everything but the writes that
// must survive a power loss (revocations, keys), so the figures are the drivers', not the disk's;
// each one at a time and with 16 at once (a pool of 16), rounds alternating between the drivers;
// then what `import()` of each costs a cold process.
//
//   npm run build && CAPE_BENCH_PG_URL=postgres://cape:cape@127.0.0.1:5432/postgres node bench/pg-driver.js
// (default: CAPE_TEST_PG_URL, then that URL). BENCH_QUICK=1 shortens every run.
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'

import pg from 'pg'
import postgres from 'postgres'

import {POSTGRES_MIGRATIONS} from '../dist/store/postgres-migrations.js'
import {SQL} from '../dist/store/postgres-store.js'
import {formatRate, median} from './lib/measure.js'

const adminUrl = process.env.CAPE_BENCH_PG_URL ?? process.env.CAPE_TEST_PG_URL ?? 'postgres://cape:cape@127.0.0.1:5432/postgres'
const quick = process.env.BENCH_QUICK === '1'
const ROUNDS = quick ? 3 : 5
const OPS = quick ? 500 : 2000
const CONCURRENCY = 16
const TOKENS = 100_000
const INT8 = 20
/** A token row with what cape always writes; the store's own INSERT takes every column. */
const INSERT = `INSERT INTO tokens (jti, subject, name, description, scopes, kid, created_at) VALUES ($1, 'bench', 'new', NULL, 'api', 'k', $2)`

const database = `cape_bench_driver_${process.pid}`
const url = new URL(adminUrl)
url.pathname = `/${database}`

const admin = new pg.Client({connectionString: adminUrl})
await admin.connect()
await admin.query(`CREATE DATABASE ${database}`)

const jtis = []
let pgPool
let sql
try {
  await setUp()
  // Both return BIGINT epoch milliseconds as JS numbers, as the store will.
  pgPool = new pg.Pool({
    connectionString: url.href,
    max: CONCURRENCY,
    options: '-c synchronous_commit=off',
    types: {getTypeParser: (oid, format) => (oid === INT8 ? Number : pg.types.getTypeParser(oid, format))},
  })
  sql = postgres(url.href, {
    max: CONCURRENCY,
    onnotice: () => {},
    connection: {synchronous_commit: 'off'},
    types: {bigint: {to: INT8, from: [INT8], serialize: String, parse: Number}},
  })

  const windowStart = Math.floor(Date.now() / 60_000) * 60
  const drivers = {
    pg: {
      read: (jti) => pgPool.query({name: 'state', text: SQL.getTokenState, values: [jti]}),
      count: (jti) => pgPool.query({name: 'count', text: SQL.countUse, values: [jti, windowStart]}),
      insert: (jti) => pgPool.query({name: 'insert', text: INSERT, values: [jti, Date.now()]}),
    },
    // As the store calls it: text and parameters, prepared.
    postgres: {
      read: (jti) => sql.unsafe(SQL.getTokenState, [jti], {prepare: true}),
      count: (jti) => sql.unsafe(SQL.countUse, [jti, windowStart], {prepare: true}),
      insert: (jti) => sql.unsafe(INSERT, [jti, Date.now()], {prepare: true}),
    },
  }

  await checkNumbers(drivers)

  const rows = []
  for (const statement of ['read', 'count', 'insert']) {
    for (const concurrency of [1, CONCURRENCY]) {
      const ops = statement === 'insert' ? OPS / 4 : OPS
      const keyOf = statement === 'insert' ? () => newJti() : statement === 'count' ? (index) => jtis[index % 64] : (index) => jtis[(index * 7919) % TOKENS]
      const rates = {pg: [], postgres: []}
      // Warm-up: connections opened, statements prepared.
      for (const name of Object.keys(drivers)) await run(drivers[name][statement], keyOf, Math.max(ops / 10, CONCURRENCY * 2), concurrency)
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of Object.keys(drivers)) rates[name].push(await run(drivers[name][statement], keyOf, ops, concurrency))
      }

      const a = median(rates.pg)
      const b = median(rates.postgres)
      rows.push([`${statement}, ${concurrency === 1 ? 'one at a time' : `${concurrency} at once`}`, formatRate(a), formatRate(b), (b / a).toFixed(2)])
    }
  }

  const imports = importCost()
  console.log(`\nPostgreSQL drivers, node ${process.version}, PostgreSQL ${(await admin.query('SHOW server_version')).rows[0].server_version}, median of ${ROUNDS} rounds\n`)
  printRows([['statement', `pg ${version('pg')}`, `postgres ${version('postgres')}`, 'postgres ÷ pg'], ...rows])
  console.log('')
  printRows([
    ['import() in a fresh process (median of 15)', 'pg', 'postgres', ''],
    ['', `${imports.pg.toFixed(1)} ms`, `${imports.postgres.toFixed(1)} ms`, ''],
  ])
} finally {
  await pgPool?.end()
  await sql?.end({timeout: 5})
  await admin.query(`DROP DATABASE IF EXISTS ${database}`)
  await admin.end()
}

async function setUp() {
  const client = new pg.Client({connectionString: url.href})
  await client.connect()
  try {
    for (const migration of POSTGRES_MIGRATIONS) await client.query(migration)
    await client.query(`INSERT INTO signing_keys (kid, alg, public_jwk, created_at) VALUES ('k', 'EdDSA', '{}', 0)`)
    for (let index = 0; index < TOKENS; index++) jtis.push(newJti())
    for (let from = 0; from < TOKENS; from += 10_000) {
      await client.query(
        `INSERT INTO tokens (jti, subject, name, scopes, kid, created_at, revoked_at)
         SELECT jti, 'bench', 'filler', 'api', 'k', $2::bigint, CASE WHEN random() < 0.1 THEN $2::bigint END FROM unnest($1::text[]) AS jti`,
        [jtis.slice(from, from + 10_000), Date.now()],
      )
    }

    await client.query('ANALYZE')
  } finally {
    await client.end()
  }
}

/** Both drivers must hand BIGINT back as a number, or the comparison is not of the same work. */
async function checkNumbers(drivers) {
  const jti = jtis[0]
  const fromPg = (await drivers.pg.count(jti)).rows[0].count
  const fromPostgres = (await drivers.postgres.count(jti))[0].count
  if (typeof fromPg !== 'number' || fromPostgres !== fromPg + 1) throw new Error(`counts disagree: ${fromPg} then ${fromPostgres}`)
}

/** Operations per second of `ops` calls, `concurrency` of them in flight at any time. */
async function run(statement, keyOf, ops, concurrency) {
  let next = 0
  const worker = async () => {
    while (next < ops) await statement(keyOf(next++))
  }

  const started = performance.now()
  await Promise.all(Array.from({length: concurrency}, worker))
  return ops / ((performance.now() - started) / 1000)
}

/** Milliseconds a fresh process spends in `await import(name)`, the median of 15 processes. */
function importCost() {
  const time = (name) => {
    const code = `const started = performance.now(); await import('${name}'); process.stdout.write(String(performance.now() - started))`
    const samples = []
    for (let index = 0; index < 15; index++) {
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], {cwd: import.meta.dirname})
      if (result.status !== 0) throw new Error(result.stderr.toString())
      samples.push(Number(result.stdout.toString()))
    }

    return median(samples)
  }

  return {pg: time('pg'), postgres: time('postgres')}
}

function newJti() {
  return randomBytes(16).toString('base64url')
}

function version(name) {
  return JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version
}

function printRows(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)))
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd())
}
