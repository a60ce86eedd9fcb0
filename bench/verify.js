// Verification throughput: cached and first-sight verify against their bare baselines, and
// what last-used tracking costs.
import {importJWK, jwtVerify} from 'jose'
import Database from 'better-sqlite3'

import {LastUsedRecorder} from '../dist/issuer/last-used.js'
import {LocalIssuer} from '../dist/issuer/local-issuer.js'
import {TokenVerifier} from '../dist/issuer/verifier.js'
import {Keyring} from '../dist/keys/keyring.js'
import {SqliteStore} from '../dist/store/sqlite-store.js'
import {asyncLoop, compareRates, syncLoop} from './lib/measure.js'
import {jtiOf} from './lib/store.js'

const expectValid = (result) => {
  if (!result.valid) throw new Error(`benchmark token refused: ${result.reason}`)
}

/** Goal ≥ 0.8: verify of a token seen before vs a bare prepared lookup of its jti. */
export async function cachedVerify({home, path, tokens, iterations}) {
  const issuer = await LocalIssuer.open({home})
  const db = new Database(path, {readonly: true})
  try {
    const lookup = db.prepare('SELECT name, revoked_at FROM tokens WHERE jti = ?')
    const jtis = tokens.map(jtiOf)
    for (const token of tokens) expectValid(await issuer.verifyToken(token))
    return await compareRates({
      a: asyncLoop((index) => issuer.verifyToken(tokens[index % tokens.length])),
      b: syncLoop((index) => lookup.get(jtis[index % jtis.length])),
      iterations,
    })
  } finally {
    db.close()
    await issuer.close()
  }
}

/** Goal ≥ 0.85: the full first look at a token vs bare jose jwtVerify of the same token. */
export async function firstSightVerify({home, path, tokens, iterations}) {
  const issuer = await LocalIssuer.open({home})
  const store = SqliteStore.open(path)
  try {
    const {issuer: iss, audience, algorithm} = await issuer.settings()
    const publicKey = await importJWK((await issuer.jwks()).keys[0], algorithm)
    // A cache of one entry, cycled through many tokens, never hits: every call is a first sight.
    const verifier = new TokenVerifier({
      issuer: iss,
      audience,
      keyring: await Keyring.load(await store.listKeys()),
      lookup: (claims) => store.getTokenState(claims.jti),
      cacheSize: 1,
    })
    const options = {issuer: iss, audience, algorithms: [algorithm]}
    return await compareRates({
      a: asyncLoop(async (index) => expectValid(await verifier.verify(tokens[index % tokens.length]))),
      b: asyncLoop((index) => jwtVerify(tokens[index % tokens.length], publicKey, options)),
      iterations,
    })
  } finally {
    store.close()
    await issuer.close()
  }
}

/** Goal ≤ 5% cost: cached verify with batched last-used writes vs with no tracking at all. */
export async function lastUsedCost({home, path, tokens, iterations}) {
  const issuer = await LocalIssuer.open({home})
  const store = SqliteStore.open(path)
  try {
    const {issuer: iss, audience} = await issuer.settings()
    const keyring = await Keyring.load(await store.listKeys())
    const recorder = new LastUsedRecorder((uses) => store.recordLastUsed(uses))
    const base = {issuer: iss, audience, keyring, lookup: (claims) => store.getTokenState(claims.jti)}
    const tracked = new TokenVerifier({...base, onVerified: (jti, at) => recorder.record(jti, at)})
    const untracked = new TokenVerifier(base)
    for (const token of tokens) {
      await tracked.verify(token)
      await untracked.verify(token)
    }

    // Yield to the event loop regularly so the recorder's timed flushes really run, and count
    // the final flush in the tracked run.
    const loop = (verifier, finish) => async (count) => {
      for (let index = 0; index < count; index++) {
        await verifier.verify(tokens[index % tokens.length])
        if (index % 1000 === 999) await new Promise(setImmediate)
      }

      await finish()
    }

    const result = await compareRates({
      a: loop(tracked, () => recorder.flush()),
      b: loop(untracked, async () => {}),
      iterations,
    })
    return {...result, cost: 1 - result.ratio}
  } finally {
    store.close()
    await issuer.close()
  }
}
