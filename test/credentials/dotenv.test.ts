import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {readDotenvValue} from '../../src/credentials/dotenv.js'
import {tempHome} from '../helpers/cli.js'

describe('CAPE_TOKEN in ./.env', () => {
  let dir: ReturnType<typeof tempHome>
  beforeEach(() => {
    dir = tempHome()
    mkdirSync(dir.root, {recursive: true})
  })
  afterEach(() => dir.cleanup())
  const read = (text: string) => {
    writeFileSync(join(dir.root, '.env'), text)
    return readDotenvValue(dir.root, 'CAPE_TOKEN')
  }

  it('reads the forms people write', () => {
    expect(read('CAPE_TOKEN=abc')).toBe('abc')
    expect(read('export CAPE_TOKEN=abc\n')).toBe('abc')
    expect(read('CAPE_TOKEN = "abc" # mine\r\n')).toBe('abc')
    expect(read("CAPE_TOKEN='a#b'")).toBe('a#b')
    expect(read('CAPE_TOKEN=abc # comment')).toBe('abc')
    expect(read('CAPE_TOKEN=old\nCAPE_TOKEN=new')).toBe('new')
  })

  it('treats everything else as "not here"', () => {
    expect(readDotenvValue(dir.root, 'CAPE_TOKEN')).toBeUndefined()
    expect(read('# CAPE_TOKEN=abc\nMY_CAPE_TOKEN=abc\nCAPE_TOKENS=abc')).toBeUndefined()
    expect(read('CAPE_TOKEN=')).toBeUndefined()
    expect(read('CAPE_TOKEN=""')).toBeUndefined()
    mkdirSync(join(dir.root, 'sub', '.env'), {recursive: true})
    expect(readDotenvValue(join(dir.root, 'sub'), 'CAPE_TOKEN')).toBeUndefined()
  })
})
