import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'

export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600

/**
 * Creates the directory (and parents) as 0700. With `tighten`, an existing one open to others
 * is made 0700: only for directories cape owns outright, never for a CAPE_HOME the user chose.
 */
export function ensurePrivateDir(path: string, options: {tighten: boolean}): void {
  mkdirSync(path, {recursive: true, mode: PRIVATE_DIR_MODE})
  if (!options.tighten) return
  const {mode} = statSync(path)
  if ((mode & 0o077) !== 0) chmodSync(path, PRIVATE_DIR_MODE)
}

/**
 * Writes a 0600 file so that readers see either the old content or the new, never a torn file:
 * a temporary file in the same directory, fsynced, then renamed over the target.
 */
export function writePrivateFileAtomic(path: string, data: string): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(temporary, 'wx', PRIVATE_FILE_MODE)
  try {
    try {
      writeSync(fd, data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }

    renameSync(temporary, path)
  } catch (error) {
    try {
      unlinkSync(temporary)
    } catch {
      // already renamed or never written: nothing to clean up
    }

    throw error
  }

  syncDirectory(dirname(path))
}

function syncDirectory(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
