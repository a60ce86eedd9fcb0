// How long a revocation made by one instance takes to be refused by another on the same store:
// two issuers (two connections, as two processes would have), one revokes, the other verifies
// every millisecond until it refuses. p50 and p99 over `count` revocations.
//
// Standalone: node bench/propagation.js [COUNT]   (CAPE_DATABASE_URL=postgres://... for PostgreSQL)
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {LocalIssuer} from '../dist/issuer/local-issuer.js'
import {percentile} from './lib/measure.js'

export async function revocationPropagation({home, databaseUrl, count = 50}) {
  const open = () => LocalIssuer.open({home, ...(databaseUrl && {databaseUrl})})
  const writer = await open()
  await writer.createToken({name: 'set-up'})
  const reader = await open()
  try {
    const tokens = []
    for (let i = 0; i < count; i++) tokens.push(await writer.createToken({name: `propagation ${i}`}))
    // Seen once by the reader: its state is then held in memory, as a busy server's would be.
    for (const {token} of tokens) if (!(await reader.verifyToken(token)).valid) throw new Error('propagation bench: a fresh token did not verify')

    const delays = []
    for (const {id, token} of tokens) {
      await writer.revokeToken(id)
      const revokedAt = performance.now()
      for (;;) {
        const result = await reader.verifyToken(token)
        if (!result.valid) break
        if (performance.now() - revokedAt > 10_000) throw new Error('propagation bench: a revocation took more than 10 s to arrive')
        await new Promise((resolve) => setTimeout(resolve, 1))
      }

      delays.push(performance.now() - revokedAt)
    }

    return {count, p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: Math.max(...delays)}
  } finally {
    await reader.close()
    await writer.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const work = mkdtempSync(join(tmpdir(), 'cape-bench-propagation-'))
  try {
    const result = await revocationPropagation({home: join(work, 'home'), databaseUrl: process.env.CAPE_DATABASE_URL, count: Number(process.argv[2] ?? 50)})
    console.log(`revocation seen by another instance, ${result.count} revocations: p50 ${result.p50.toFixed(0)} ms, p99 ${result.p99.toFixed(0)} ms, max ${result.max.toFixed(0)} ms`)
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
