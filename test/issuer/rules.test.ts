import {describe, expect, it} from 'vitest'

import {parseDuration} from '../../src/core/duration.js'
import {CapeError} from '../../src/core/errors.js'
import {grantsScopes, normalizeScopes, validateLabel} from '../../src/issuer/rules.js'
import {newTokenId, TOKEN_ID_PATTERN} from '../../src/issuer/token-id.js'

const failure = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    if (error instanceof CapeError) return {code: error.code, message: error.message}
    throw error
  }

  throw new Error('expected a CapeError')
}

describe('parseDuration', () => {
  it.each([
    ['45s', 45],
    ['30m', 1800],
    ['12h', 43_200],
    ['90d', 7_776_000],
    ['2w', 1_209_600],
    ['1y', 31_536_000],
    ['1h30m', 5400],
    [' 7D ', 604_800],
  ])('%s is %i seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds)
  })

  it.each(['', '5', 'd', '5q', '1.5h', '-1d', '0s', '0d0h', '1 d', '101y', '99999999999d', 'PT1H'])('refuses %j', (input) => {
    expect(failure(() => parseDuration(input))).toMatchObject({code: 'invalid_duration', message: expect.stringContaining('invalid duration')})
  })
})

describe('scopes', () => {
  it('defaults to api, sorts, de-duplicates, and lets * stand alone', () => {
    expect(normalizeScopes(undefined)).toEqual(['api'])
    expect(normalizeScopes([])).toEqual(['api'])
    expect(normalizeScopes(['tokens', 'api', 'tokens'])).toEqual(['api', 'tokens'])
    expect(normalizeScopes(['api', '*'])).toEqual(['*'])
  })

  it.each(['a b', 'a,b', '', 'é', 'x'.repeat(65), '**', 'api*'])('refuses %j', (scope) => {
    expect(failure(() => normalizeScopes([scope])).code).toBe('invalid_scope')
  })

  it('grants by exact match or *', () => {
    expect(grantsScopes(['tokens:read'], ['tokens:read'])).toBe(true)
    expect(grantsScopes(['tokens:read'], ['tokens'])).toBe(false)
    expect(grantsScopes(['tokens'], ['tokens:read'])).toBe(false)
    expect(grantsScopes(['*'], ['anything', 'else'])).toBe(true)
    expect(grantsScopes(['api'], [])).toBe(true)
  })
})

describe('labels', () => {
  it('refuses empty, overlong and terminal-control text', () => {
    expect(failure(() => validateLabel('name', ' ', 10)).message).toBe('name must not be empty')
    expect(failure(() => validateLabel('name', 'x'.repeat(11), 10)).message).toBe('name is too long: at most 10 characters')
    expect(failure(() => validateLabel('name', 'a\nb', 10)).code).toBe('invalid_argument')
    expect(failure(() => validateLabel('name', 'a\u202Eb', 10)).code).toBe('invalid_argument')
    expect(validateLabel('name', 'laptop 💻', 10)).toBe('laptop 💻')
  })
})

describe('token ids', () => {
  it('are 22 base62 characters, unique, with every character in use', () => {
    const ids = Array.from({length: 5000}, () => newTokenId())
    expect(ids.every((id) => TOKEN_ID_PATTERN.test(id))).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(ids.join('')).size).toBe(62)
  })
})
