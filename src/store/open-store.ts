import {join} from 'node:path'

import {CapeError} from '../core/errors.js'
import {SqliteStore} from './sqlite-store.js'
import type {Store} from './types.js'

export interface StoreLocation {
  /** The data directory: SQLite's cape.db lives here. */
  home: string
  /** A postgres:// (or postgresql://) URL: the store is that PostgreSQL database instead. */
  databaseUrl?: string | undefined
}

/**
 * SQLite in the data directory, or PostgreSQL when a database URL is given. The PostgreSQL
 * store, and its driver, are loaded only then, so SQLite's start costs what it did.
 */
export async function openStore(location: StoreLocation): Promise<Store> {
  const url = location.databaseUrl
  if (url === undefined || url === '') return SqliteStore.open(join(location.home, 'cape.db'))
  if (!url.startsWith('postgres://') && !url.startsWith('postgresql://')) {
    throw new CapeError('config_invalid', 'the database URL must start with postgres:// or postgresql://')
  }

  const {PostgresStore} = await import('./postgres-store.js')
  return PostgresStore.open(url)
}
