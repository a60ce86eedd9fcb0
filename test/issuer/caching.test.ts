import {describe, expect, it} from 'vitest'

import {LastUsedRecorder} from '../../src/issuer/last-used.js'
import {SignatureCache} from '../../src/issuer/signature-cache.js'

describe('SignatureCache', () => {
  it('stays within its capacity, dropping the oldest entry first', () => {
    const cache = new SignatureCache<number>(3)
    for (const [index, key] of ['a', 'b', 'c', 'd'].entries()) cache.set(key, index)
    expect(cache.size).toBe(3)
    expect(cache.get('a')).toBeUndefined()
    expect(cache.get('d')).toBe(3)
    cache.clear()
    expect(cache.size).toBe(0)
  })
})

describe('LastUsedRecorder', () => {
  const options = {intervalMs: 60_000, resolutionMs: 60_000, maxPending: 10_000, maxRecent: 100}

  it('writes one time per token per batch, to the minute', async () => {
    const batches: Array<Record<string, number>> = []
    const recorder = new LastUsedRecorder(
      async (uses) => void batches.push(Object.fromEntries([...uses].map(([jti, use]) => [jti, use.at]))),
      options,
    )
    recorder.record('a', 0)
    recorder.record('b', 2000, '203.0.113.7')
    recorder.record('a', 59_999)
    expect(batches).toEqual([])
    await recorder.flush()
    expect(batches).toEqual([{a: 0, b: 2000}])
    await recorder.flush()
    expect(batches).toHaveLength(1)

    recorder.record('a', 60_000)
    recorder.record('b', 3000)
    await recorder.flush()
    expect(batches).toEqual([{a: 0, b: 2000}, {a: 60_000}])
  })

  it('flushes by itself after its interval and when too much is pending', async () => {
    const batches: number[] = []
    const recorder = new LastUsedRecorder(async (uses) => void batches.push(uses.size), {
      ...options,
      intervalMs: 20,
      maxPending: 3,
    })
    recorder.record('a', 1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(batches).toEqual([1])
    for (const id of ['b', 'c', 'd']) recorder.record(id, 1)
    await recorder.flush()
    expect(batches).toEqual([1, 3])
  })

  it('never lets a failing write reach the verification that triggered it', async () => {
    const recorder = new LastUsedRecorder(async () => {
      throw new Error('database is locked')
    })
    recorder.record('a', 1)
    await expect(recorder.flush()).resolves.toBeUndefined()
  })
})
