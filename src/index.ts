/** The library face of cape, for services that issue or verify tokens in-process. */
export {CapeError, EXIT_CODES, isCapeError, type ErrorCode, type ExitCode} from './core/errors.js'
export {parseDuration} from './core/duration.js'
export {DEFAULT_ALGORITHM, DEFAULT_AUDIENCE, DEFAULT_ISSUER} from './issuer/defaults.js'
export {LocalIssuer, type LocalIssuerOptions} from './issuer/local-issuer.js'
export {createVerifier, type Verifier, type VerifierOptions} from './verifier/remote-verifier.js'
export {capeFastify, capeMiddleware, type GuardOptions, type Principal} from './verifier/middleware.js'
export type * from './issuer/types.js'
