/**
 * The layers of ../shared/DESIGN.md, checked in CI (`npm run lint:deps`): data flows down, never
 * up. From the top: commands → cli → (credentials, remote, server) → verifier → issuer →
 * (store, keys) → (keychain, fs) → core. A folder may import any folder below it that its row
 * allows; core imports nothing of ours. Type-only imports count too.
 */
const layer = (name, mayImport) => ({
  name: `${name}-imports-down`,
  comment: `${name}/ may import only ${mayImport.join(', ') || 'nothing of ours'}`,
  severity: 'error',
  from: {path: `^src/${name}/`},
  to: {path: '^src/', pathNot: [`^src/${name}/`, ...mayImport.map((folder) => `^src/${folder}/`)]},
})

module.exports = {
  forbidden: [
    layer('core', []),
    layer('fs', ['core']),
    layer('keychain', ['core']),
    layer('store', ['core', 'fs']),
    layer('keys', ['core', 'fs', 'keychain']),
    layer('issuer', ['core', 'fs', 'store', 'keys']),
    // The library for other services: the issuer's verifier and keys, never the store or the CLI.
    layer('verifier', ['core', 'issuer', 'keys']),
    layer('server', ['core', 'issuer', 'verifier']),
    layer('remote', ['core', 'issuer', 'verifier']),
    layer('credentials', ['core', 'fs', 'keychain']),
    layer('cli', ['core', 'issuer', 'credentials', 'remote', 'verifier', 'keychain']),
    {
      name: 'commands-see-the-contract',
      comment: 'commands use the cli layer, credentials, the server to start, and of the issuer only its contract (types, defaults)',
      severity: 'error',
      from: {path: '^src/commands/'},
      to: {path: '^src/', pathNot: ['^src/(commands|cli|core|credentials|server)/', '^src/issuer/(types|defaults)\\.ts$']},
    },
    {
      name: 'library-entry',
      comment: 'src/index.ts exports the verifier library and the core types, nothing of the CLI',
      severity: 'error',
      from: {path: '^src/index\\.ts$'},
      to: {path: '^src/(commands|cli|credentials|server|remote|store)/'},
    },
    {name: 'no-circular', severity: 'error', from: {}, to: {circular: true}},
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {extensions: ['.ts', '.cts', '.js']},
  },
}
