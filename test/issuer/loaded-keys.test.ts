import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {LoadedKeys} from '../../src/issuer/loaded-keys.js'
import type {TokenVerifier} from '../../src/issuer/verifier.js'
import {SqliteStore} from '../../src/store/sqlite-store.js'
import type {Store} from '../../src/store/types.js'
import {openTestIssuer} from '../helpers/issuer.js'

/** The real SQLite store, answering its key epoch later rather than at once, as a networked store does. */
function answeringLater(store: SqliteStore): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'keyEpoch') return () => new Promise((resolve) => setImmediate(() => resolve(target.keyEpoch())))
      const value = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as Store
}

describe('what a process has loaded of the issuer', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })

  it('notices a key change made elsewhere within a second, also when the store answers asynchronously', async () => {
    const {issuer, home, cleanup} = await openTestIssuer()
    cleanups.push(cleanup)
    await issuer.init()
    const store = SqliteStore.open(join(home, 'cape.db'))
    cleanups.push(() => store.close())
    let built = 0
    const keys = new LoadedKeys(answeringLater(store), join(home, 'keys'), async () => ({built: ++built}) as unknown as TokenVerifier)
    cleanups.push(() => keys.close())
    await keys.load()

    const first = await keys.currentVerifier()
    expect(keys.ready).toBe(first)
    const activeBefore = (await keys.currentIssuer())!.activeKid

    // Another process (here: another connection) rotates the signing key.
    const rotated = await issuer.rotateSigningKey()
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(keys.ready).toBeUndefined()
    const second = await keys.currentVerifier()
    expect(second).not.toBe(first)
    expect(built).toBe(2)
    expect((await keys.currentIssuer())!.activeKid).toBe(rotated.kid)
    expect(rotated.kid).not.toBe(activeBefore)
    expect(keys.ready).toBe(second)
  })
})
