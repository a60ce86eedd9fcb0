import {readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir, writePrivateFileAtomic} from '../fs/secure-files.js'
import {CapeError} from '../core/errors.js'
import {command, wording} from '../core/wording.js'
import type {SecretStore} from './types.js'

/**
 * The fallback for machines without a keychain, used only when the user asks for it
 * (`--insecure-storage`): one plain-text file per profile, 0600 in a 0700 directory.
 */
export class InsecureFileStore implements SecretStore {
  readonly kind = 'file'

  constructor(private readonly dir: string) {}

  static in(home: string): InsecureFileStore {
    return new InsecureFileStore(join(home, 'credentials'))
  }

  pathOf(profile: string): string {
    return join(this.dir, profile)
  }

  describe(profile: string): string {
    return `${this.pathOf(profile)} (plain text: stored insecurely)`
  }

  async get(profile: string): Promise<string | null> {
    const path = this.pathOf(profile)
    try {
      // Others being able to read it would defeat the point of 0600; say so rather than use it.
      if ((statSync(path).mode & 0o077) !== 0) {
        throw new CapeError(
          'credentials_unavailable',
          wording`${path} is readable by other users: run "chmod 600 ${path}" or "${command('logout')}", then log in again`,
        )
      }

      const token = readFileSync(path, 'utf8').trim()
      return token.length > 0 ? token : null
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw fsFailure(`cannot read ${path}`, error)
    }
  }

  async set(profile: string, token: string): Promise<void> {
    try {
      ensurePrivateDir(this.dir, {tighten: true})
      writePrivateFileAtomic(this.pathOf(profile), `${token}\n`)
    } catch (error) {
      throw fsFailure(`cannot write ${this.pathOf(profile)}`, error)
    }
  }

  async delete(profile: string): Promise<boolean> {
    const path = this.pathOf(profile)
    try {
      statSync(path)
    } catch {
      return false
    }

    try {
      rmSync(path)
      return true
    } catch (error) {
      throw fsFailure(`cannot delete ${path}`, error)
    }
  }
}

function fsFailure(what: string, error: unknown): CapeError {
  if (error instanceof CapeError) return error
  return new CapeError('credentials_unavailable', `${what}: ${describeFsError(error)}`, {cause: error})
}
