import {resolve} from 'node:path'

/** CAPE_HOME when set, else oclif's data directory (~/.local/share/cape on Linux). */
export function capeHome(dataDir: string): string {
  const fromEnv = process.env.CAPE_HOME
  return resolve(fromEnv && fromEnv.length > 0 ? fromEnv : dataDir)
}
