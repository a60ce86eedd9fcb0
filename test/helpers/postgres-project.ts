import {beforeEach} from 'vitest'

import {postgresSkipReason} from './postgres.js'

// The setup of vitest's "postgres" project: where no PostgreSQL answers (outside CI), each of its
// tests is skipped, with the reason; in CI the helper has already failed the file.
beforeEach((context) => {
  if (postgresSkipReason !== undefined) context.skip(postgresSkipReason)
})
