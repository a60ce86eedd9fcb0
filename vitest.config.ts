import {defineConfig} from 'vitest/config'

/** The issuer's tests that run a second time on a PostgreSQL store (CAPE_TEST_STORE=postgres, see test/helpers/issuer.ts). */
const ON_BOTH_STORES = [
  'test/issuer/caching.test.ts',
  'test/issuer/forgery.test.ts',
  'test/issuer/lifecycle.test.ts',
  'test/issuer/prepared-token.test.ts',
]

export default defineConfig({
  test: {
    // Two files at a time even on 2 cores (vitest's default there is one): most of the suite waits
    // on processes, servers, the keychain and bounds, not on the CPU.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // In CI a JSON report as well, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: {json: 'test-results.json'},
    projects: [
      {extends: true, test: {name: 'sqlite', include: ['test/**/*.test.ts'], env: {TZ: 'UTC'}}},
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ON_BOTH_STORES,
          env: {TZ: 'UTC', CAPE_TEST_STORE: 'postgres'},
          setupFiles: ['test/helpers/postgres-project.ts'],
        },
      },
    ],
  },
})
