import {afterAll, beforeEach} from 'vitest'

import {dropSpareDatabases, postgresSkipReason} from './postgres.js'

// The setup of vitest's "postgres" project: where no PostgreSQL answers (outside CI), each of its
// tests is skipped, with the reason; in CI the helper has already failed the file.
beforeEach((context) => {
  if (postgresSkipReason !== undefined) context.skip(postgresSkipReason)
})

// The databases the file's issuers used, kept for one another (see takeTestDatabase), go with the file.
afterAll(() => dropSpareDatabases())
