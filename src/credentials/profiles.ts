import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir, writePrivateFileAtomic} from '../fs/secure-files.js'
import {CapeError} from '../core/errors.js'
import {SECRET_STORAGES} from '../core/token.js'
import type {StorageKind} from './types.js'

export const DEFAULT_PROFILE = 'default'
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** What cape remembers about a stored token, so it can name it without the keychain. Never the token. */
export interface ProfileRecord {
  storage: StorageKind
  tokenId: string
  name: string
  subject: string
  expiresAt: string | null
  savedAt: string
  /** The issuer service the token belongs to (`cape login --issuer-url`); absent for this machine's. */
  issuerUrl?: string
}

interface ConfigFile {
  activeProfile?: string
  profiles?: Record<string, ProfileRecord>
}

export function validateProfileName(name: string): string {
  if (!PROFILE_NAME.test(name)) {
    throw new CapeError(
      'invalid_profile',
      `profile "${name}" is not a valid name: use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    )
  }

  return name
}

/**
 * `$CAPE_HOME/config.json`: the active profile and, per profile, where its token is stored and
 * what it is. Written atomically, 0600.
 */
export class ProfileConfig {
  private constructor(
    private readonly path: string,
    private readonly data: {activeProfile: string | undefined; profiles: Map<string, ProfileRecord>},
  ) {}

  static load(home: string): ProfileConfig {
    const path = join(home, 'config.json')
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (error) {
      // ENOTDIR: CAPE_HOME itself is unusable, which opening the store reports in its own words.
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        return new ProfileConfig(path, {activeProfile: undefined, profiles: new Map()})
      }

      throw new CapeError('config_invalid', `cannot read ${path}: ${describeFsError(error)}`, {cause: error})
    }

    let parsed: ConfigFile
    try {
      parsed = JSON.parse(text) as ConfigFile
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object')
    } catch {
      throw new CapeError('config_invalid', `${path} is not valid JSON: repair it, or delete it and log in again`)
    }

    const profiles = new Map<string, ProfileRecord>()
    for (const [name, record] of Object.entries(parsed.profiles ?? {})) {
      if (PROFILE_NAME.test(name) && isRecord(record)) profiles.set(name, record)
    }

    const active = typeof parsed.activeProfile === 'string' && PROFILE_NAME.test(parsed.activeProfile)
    return new ProfileConfig(path, {activeProfile: active ? parsed.activeProfile : undefined, profiles})
  }

  /** `--profile`, else CAPE_PROFILE, else the one chosen with `cape auth switch`, else "default". */
  effectiveProfile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
    const chosen = flag ?? (env.CAPE_PROFILE || undefined) ?? this.data.activeProfile ?? DEFAULT_PROFILE
    return validateProfileName(chosen)
  }

  get activeProfile(): string {
    return this.data.activeProfile ?? DEFAULT_PROFILE
  }

  profileNames(): string[] {
    return [...this.data.profiles.keys()].sort()
  }

  record(profile: string): ProfileRecord | undefined {
    return this.data.profiles.get(profile)
  }

  setRecord(profile: string, record: ProfileRecord): void {
    this.data.profiles.set(profile, record)
  }

  removeRecord(profile: string): void {
    this.data.profiles.delete(profile)
  }

  setActive(profile: string): void {
    this.data.activeProfile = profile
  }

  save(): void {
    const file: ConfigFile = {profiles: Object.fromEntries(this.data.profiles)}
    if (this.data.activeProfile !== undefined) file.activeProfile = this.data.activeProfile
    try {
      ensurePrivateDir(join(this.path, '..'), {tighten: false})
      writePrivateFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`)
    } catch (error) {
      throw new CapeError('config_invalid', `cannot write ${this.path}: ${describeFsError(error)}`, {cause: error})
    }
  }
}

function isRecord(value: unknown): value is ProfileRecord {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return (
    SECRET_STORAGES.some((storage) => storage === record.storage) &&
    typeof record.tokenId === 'string' &&
    typeof record.name === 'string' &&
    typeof record.subject === 'string' &&
    (record.expiresAt === null || typeof record.expiresAt === 'string') &&
    (record.issuerUrl === undefined || typeof record.issuerUrl === 'string')
  )
}
