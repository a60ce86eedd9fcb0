import {closeSync, openSync, readSync} from 'node:fs'
import {join} from 'node:path'

/** A .env that large is not a .env; cape reads no further. */
const MAX_DOTENV_BYTES = 256 * 1024
const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/

/** Where `.env` would be for this working directory. */
export function dotenvPath(cwd: string): string {
  return join(cwd, '.env')
}

/**
 * The value of `key` in `cwd/.env`, read the way dotenv does for the simple cases: `KEY=value`,
 * `export KEY=value`, single or double quotes, `# comments`. The last assignment wins. No file,
 * an unreadable file or no such key all mean "not here", so the next source is tried.
 */
export function readDotenvValue(cwd: string, key: string): string | undefined {
  const text = readHead(dotenvPath(cwd))
  if (text === undefined) return undefined
  let value: string | undefined
  for (const line of text.split(/\r?\n/)) {
    const match = ASSIGNMENT.exec(line)
    if (match?.[1] === key) value = unquote(match[2]!)
  }

  return value === undefined || value.length === 0 ? undefined : value
}

function readHead(path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }

  try {
    const buffer = Buffer.alloc(MAX_DOTENV_BYTES)
    const length = readSync(fd, buffer, 0, buffer.length, 0)
    return buffer.toString('utf8', 0, length)
  } catch {
    return undefined // a directory named .env, say
  } finally {
    closeSync(fd)
  }
}

function unquote(raw: string): string {
  const value = raw.trim()
  const quote = value[0]
  if (quote === '"' || quote === "'") {
    const end = value.indexOf(quote, 1)
    return end === -1 ? value.slice(1) : value.slice(1, end)
  }

  const comment = value.search(/\s#/)
  return (comment === -1 ? value : value.slice(0, comment)).trim()
}
