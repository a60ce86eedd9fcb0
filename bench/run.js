// npm run bench: every benchmark in one run, figures and ratios against the goals.
// BENCH_TOKENS (default 1000000) sets the store size; BENCH_QUICK=1 shortens every run (the HTTP
// runs last 2 s instead of 5 s).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {bytesPerToken, creationRate} from './create.js'
import {credentialLookup} from './credentials.js'
import {httpRows, httpThroughput} from './http.js'
import {formatBytes, formatRate, printTable, verdict} from './lib/measure.js'
import {buildStore} from './lib/store.js'
import {postgresFigures} from './postgres.js'
import {revocationPropagation} from './propagation.js'
import {coldStart} from './startup.js'
import {cachedVerify, firstSightVerify, lastUsedCost} from './verify.js'

const total = Number(process.env.BENCH_TOKENS ?? 1_000_000)
const quick = process.env.BENCH_QUICK === '1'
const scale = quick ? 0.1 : 1
const work = mkdtempSync(join(tmpdir(), 'cape-bench-'))
const started = performance.now()
const ms = (seconds) => `${(seconds * 1000).toFixed(0)} ms`
const step = (label) => console.error(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${label}`)

try {
  step(`building a store of ${total.toLocaleString('en-US')} tokens`)
  const big = {home: join(work, 'big')}
  Object.assign(big, await buildStore(big.home, {total, real: 2000}))

  step('cached verify vs bare lookup')
  const cached = await cachedVerify({...big, tokens: big.tokens.slice(0, 1000), iterations: 200_000 * scale})
  step('first-sight verify vs jose jwtVerify')
  const first = await firstSightVerify({...big, iterations: 8000 * scale})
  step('last-used tracking')
  const lastUsed = await lastUsedCost({...big, tokens: big.tokens.slice(0, 1000), iterations: 200_000 * scale})
  step('database size')
  const size = bytesPerToken(big.path)
  step('creation rate')
  const createdPerSecond = await creationRate({home: join(work, 'create'), count: 2000 * scale})
  step('cold start')
  const small = join(work, 'small')
  await buildStore(small, {total: 10, real: 10})
  const start = coldStart({home: small, runs: quick ? 10 : 30})
  step('whoami: keychain, file, --token')
  const lookup = await credentialLookup({work, runs: quick ? 10 : 30})
  step('revocation seen by another instance (SQLite)')
  const propagation = await revocationPropagation({home: join(work, 'propagation'), count: quick ? 20 : 100})
  step('PostgreSQL')
  const pg = await postgresFigures({
    work,
    adminUrl: process.env.CAPE_TEST_PG_URL || 'postgres://cape:cape@127.0.0.1:5432/postgres',
    total,
    count: 2000 * scale,
    iterations: 200_000 * scale,
    log: (line) => step(`  ${line}`),
  })
  step('HTTP on loopback: hello, introspection, capeFastify (JWKS, introspection)')
  const http = await httpThroughput({work, durationSeconds: quick ? 2 : 5, log: (line) => step(`  ${line}`)})
  step('done')

  console.log(`\ncape benchmarks, ${total.toLocaleString('en-US')} tokens in the store, node ${process.version}\n`)
  printTable([
    ['verify (cached) vs bare jti lookup', `${formatRate(cached.rateA)} vs ${formatRate(cached.rateB)}`, cached.ratio.toFixed(2), '≥ 0.80', verdict(cached.ratio, 0.8)],
    ['verify (first sight) vs jose jwtVerify', `${formatRate(first.rateA)} vs ${formatRate(first.rateB)}`, first.ratio.toFixed(2), '≥ 0.85', verdict(first.ratio, 0.85)],
    ['verify with vs without last-used', `${formatRate(lastUsed.rateA)} vs ${formatRate(lastUsed.rateB)}`, `${(lastUsed.cost * 100).toFixed(1)}% cost`, '≤ 5%', verdict(lastUsed.cost, 0.05, false)],
    ['cold start: token list vs bare oclif', `${(start.cape * 1000).toFixed(0)} ms vs ${(start.bare * 1000).toFixed(0)} ms (${start.tool})`, `${start.ratio.toFixed(2)}×`, '≤ 1.5×', verdict(start.ratio, 1.5, false)],
    ['tokens created in-process', formatRate(createdPerSecond), '', '', ''],
    ['database size per token', `${size.perToken.toFixed(0)} B (${formatBytes(size.size)} for ${size.rows.toLocaleString('en-US')})`, '', '', ''],
    lookup
      ? ['whoami: keychain / 0600 file / --token', [lookup.fromKeychain, lookup.fromFile, lookup.fromFlag].map(ms).join(' / '), `+${ms(lookup.fromKeychain - lookup.fromFlag)} keychain`, '', '']
      : ['whoami from the keychain', 'skipped: no dbus-daemon / gnome-keyring here', '', '', ''],
    ['revocation seen by another instance, SQLite', `p50 ${ms(propagation.p50 / 1000)}, p99 ${ms(propagation.p99 / 1000)} (${propagation.count} revocations)`, '', 'p99 ≤ 1 s', verdict(propagation.p99, 1000, false)],
    ...(pg.skipped
      ? [['PostgreSQL', `skipped: ${pg.skipped}`, '', '', '']]
      : [
          ['tokens created in-process, PostgreSQL', `${formatRate(pg.created)} (SQLite: ${formatRate(createdPerSecond)})`, '', '', ''],
          ['revocation seen by another instance, PostgreSQL', `p50 ${ms(pg.propagation.p50 / 1000)}, p99 ${ms(pg.propagation.p99 / 1000)} (${pg.propagation.count} revocations)`, '', 'p99 ≤ 1 s', verdict(pg.propagation.p99, 1000, false)],
          [`verify (cached), PostgreSQL, ${total.toLocaleString('en-US')} tokens, vs Map lookup`, `${formatRate(pg.cached.rateA)} vs ${formatRate(pg.cached.rateB)}`, pg.cached.ratio.toFixed(2), '', ''],
        ]),
    ...httpRows(http),
  ])
} finally {
  rmSync(work, {recursive: true, force: true})
}
