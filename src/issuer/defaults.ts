import type {Algorithm} from './types.js'

export const DEFAULT_ISSUER = 'urn:cape:local'
export const DEFAULT_AUDIENCE: readonly string[] = ['cape-api']
export const DEFAULT_ALGORITHM: Algorithm = 'EdDSA'
