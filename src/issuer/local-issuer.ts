import {rmSync} from 'node:fs'
import {userInfo} from 'node:os'
import {join} from 'node:path'

import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir} from '../fs/secure-files.js'
import {privateKeyPath, writePrivateKey} from '../keys/private-key-file.js'
import type {Keyring} from '../keys/keyring.js'
import type {TokenSigner} from '../keys/token-signer.js'
import {SqliteStore} from '../store/sqlite-store.js'
import type {Store, StoredIssuer, StoredToken} from '../store/types.js'
import {DEFAULT_ALGORITHM, DEFAULT_AUDIENCE, DEFAULT_ISSUER} from './defaults.js'
import {CapeError} from './errors.js'
import {LastUsedRecorder} from './last-used.js'
import {LIMITS, normalizeScopes, validateDescription, validateLabel} from './rules.js'
import {newTokenId} from './token-id.js'
import type {PreparedToken} from './prepared-token.js'
import type {TokenVerifier} from './verifier.js'
import type {
  CreatedToken,
  CreateTokenInput,
  InitIssuerInput,
  IssuerClient,
  IssuerSettings,
  Jwks,
  ListTokensOptions,
  PublicJwk,
  TokenRecord,
  TokenStatus,
  VerifyOptions,
  VerifyResult,
} from './types.js'

/** How long a refused unknown kid keeps the store from being asked again about keys. */
const KEY_RECHECK_MS = 1000

export interface LocalIssuerOptions {
  /** The data directory: `cape.db` and `keys/` live here. */
  home: string
  /** Epoch milliseconds; tests move the clock. */
  now?: () => number
}

/**
 * The issuer on this machine: SQLite for metadata and public keys, private keys in 0600 files.
 * The crypto (jose, key imports) loads on first use, so listing or revoking never pays for it.
 */
export class LocalIssuer implements IssuerClient {
  static async open(options: LocalIssuerOptions): Promise<LocalIssuer> {
    try {
      ensurePrivateDir(options.home, {tighten: false})
    } catch (error) {
      throw new CapeError('home_unavailable', `cannot use ${options.home} as CAPE_HOME: ${describeFsError(error)}`, {
        cause: error,
      })
    }

    const store = SqliteStore.open(join(options.home, 'cape.db'))
    try {
      const issuer = new LocalIssuer(store, join(options.home, 'keys'), options.now ?? Date.now)
      await issuer.load()
      return issuer
    } catch (error) {
      store.close()
      throw error
    }
  }

  private state: StoredIssuer | undefined
  private signer: Promise<TokenSigner> | undefined
  private verifier: TokenVerifier | undefined
  private verifierLoading: Promise<TokenVerifier> | undefined
  private readonly lastUsed: LastUsedRecorder
  private keysCheckedAt = 0

  private constructor(
    private readonly store: Store,
    private readonly keysDir: string,
    private readonly now: () => number,
  ) {
    this.lastUsed = new LastUsedRecorder((uses) => this.store.recordLastUsed(uses))
  }

  /** The issuer's settings, or undefined while it has not been set up. */
  async settings(): Promise<IssuerSettings | undefined> {
    return this.state && toSettings(this.state)
  }

  /** Sets the issuer up explicitly; refuses when it already exists, since keys and tokens depend on it. */
  async init(input: InitIssuerInput = {}): Promise<IssuerSettings> {
    if (this.state || !(await this.initialize(input))) {
      throw new CapeError(
        'issuer_already_initialized',
        `the issuer is already set up (iss ${this.state!.issuer}, alg ${this.state!.algorithm}); use another CAPE_HOME for another issuer`,
      )
    }

    return toSettings(this.state!)
  }

  async createToken(input: CreateTokenInput): Promise<CreatedToken> {
    const name = validateLabel('name', input.name, LIMITS.name)
    const description = validateDescription(input.description)
    const scopes = normalizeScopes(input.scopes)
    const issuer = await this.ensureInitialized()
    const subject = validateLabel('subject', input.subject ?? issuer.defaultSubject, LIMITS.subject)
    const account = input.account === undefined ? null : validateLabel('account', input.account, LIMITS.account)

    const createdAt = this.now()
    const issuedAt = Math.floor(createdAt / 1000)
    const expiresAtSeconds = input.expiresInSeconds === undefined ? undefined : issuedAt + input.expiresInSeconds
    const jti = newTokenId()
    // Claims in Cape's (alphabetical) order; `account`, `exp` and `scope` only when they say something.
    const claims = {
      ...(account === null ? {} : {account}),
      aud: issuer.audience,
      ...(expiresAtSeconds === undefined ? {} : {exp: expiresAtSeconds}),
      iat: issuedAt,
      iss: issuer.issuer,
      jti,
      nbf: issuedAt,
      scope: scopes.join(' '),
      sub: subject,
    }
    const token = await (await this.loadSigner(issuer)).sign(claims)

    const stored: StoredToken = {
      jti,
      subject,
      name,
      description,
      scopes,
      kid: issuer.activeKid,
      createdAt,
      expiresAt: expiresAtSeconds === undefined ? null : expiresAtSeconds * 1000,
      revokedAt: null,
      lastUsedAt: null,
      account,
    }
    // Committed before anyone sees the token: a printed token always verifies.
    await this.store.insertToken(stored)
    return {...this.toRecord(stored), token}
  }

  async listTokens(options: ListTokensOptions = {}): Promise<TokenRecord[]> {
    const tokens = await this.store.listTokens({includeRevoked: options.includeRevoked ?? false, subject: options.subject})
    return tokens.map((token) => this.toRecord(token))
  }

  async getToken(id: string): Promise<TokenRecord> {
    const token = await this.store.getToken(id)
    if (!token) throw notFound(id)
    return this.toRecord(token)
  }

  async revokeToken(id: string): Promise<TokenRecord> {
    const outcome = await this.store.revokeToken(id, this.now())
    if (outcome === 'not_found') throw notFound(id)
    if (outcome === 'already_revoked') {
      throw new CapeError('token_already_revoked', `token ${id} is already revoked`)
    }

    return this.getToken(id)
  }

  /**
   * Loads what verification needs (jose, the public keys) ahead of the first verifyToken, so a
   * caller waiting on something else, such as the OS keychain, can overlap the two.
   */
  async prepareToVerify(): Promise<void> {
    await this.loadVerifier()
  }

  verifyToken(token: string, options?: VerifyOptions): Promise<VerifyResult> {
    if (this.verifier) return this.verifier.verify(token, options)
    return this.loadVerifier().then((verifier) => verifier.verify(token, options))
  }

  /** This issuer's own public keys; keys imported with prepared tokens belong to other issuers. */
  async jwks(): Promise<Jwks> {
    await this.ensureInitialized()
    const keys = await this.store.listKeys()
    return {
      keys: keys
        .filter((key) => key.retiredAt === null && key.foreign === null)
        .map((key) => JSON.parse(key.publicJwk) as PublicJwk),
    }
  }

  /**
   * A bundle another issuer (or this one) can import to accept the token: its metadata, iss, aud
   * and public key. Refused for a revoked or expired token, which no one should prepare.
   */
  async exportToken(id: string): Promise<string> {
    const token = await this.store.getToken(id)
    if (!token) throw notFound(id)
    const status = this.statusOf(token)
    if (status !== 'active') throw new CapeError('token_inactive', `token ${id} is ${status}: there is nothing to export`)

    const key = (await this.store.listKeys()).find((candidate) => candidate.kid === token.kid)
    const issuer = key?.foreign ?? (this.state && {issuer: this.state.issuer, audience: this.state.audience})
    if (!key || !issuer) throw new CapeError('key_unavailable', `the key that signed token ${id} is no longer in the store`)

    const {encodePreparedToken} = await import('./prepared-token.js')
    return encodePreparedToken({
      v: 1,
      token: {
        id: token.jti,
        name: token.name,
        description: token.description,
        subject: token.subject,
        scopes: token.scopes,
        account: token.account,
        createdAt: token.createdAt,
        expiresAt: token.expiresAt,
      },
      issuer: {iss: issuer.issuer, aud: issuer.audience},
      key: JSON.parse(key.publicJwk) as PreparedToken['key'],
    })
  }

  /**
   * Stores a prepared token so that this issuer accepts it; its key verifies only the tokens
   * imported with it. Importing the same token again is a no-op and never undoes a revocation.
   */
  async importToken(bundle: string): Promise<{imported: boolean; token: TokenRecord}> {
    const {decodePreparedToken} = await import('./prepared-token.js')
    const {token, key} = await decodePreparedToken(bundle)
    const existing = await this.store.getToken(token.jti)
    if (!existing && token.expiresAt !== null && token.expiresAt <= this.now()) {
      throw new CapeError('token_inactive', `token ${token.jti} expired on ${iso(token.expiresAt)}: there is nothing to import`)
    }

    const outcome = await this.store.importToken(token, key)
    if (outcome === 'token_conflict') {
      throw new CapeError('token_conflict', `another token with id ${token.jti} is already stored here; nothing was imported`)
    }

    if (outcome === 'key_conflict') {
      throw new CapeError('token_conflict', `key ${key.kid} is already known here for another issuer or audience; nothing was imported`)
    }

    if (outcome === 'imported') await this.load()
    return {imported: outcome === 'imported', token: await this.getToken(token.jti)}
  }

  async close(): Promise<void> {
    await this.lastUsed.flush()
    this.store.close()
  }

  private async load(): Promise<void> {
    this.state = await this.store.getIssuer()
    // Whatever was learnt about keys before this (re)load no longer holds.
    this.verifier = undefined
    this.verifierLoading = undefined
  }

  /**
   * Asked by the verifier when a token names a key it has not loaded: another process (`cape
   * token import`, a key rotation) may have added it since. The store is asked at most once a
   * second, so a flood of made-up kids costs one small query a second.
   */
  private async refreshKeys(loaded: readonly string[]): Promise<Keyring | undefined> {
    const now = Date.now()
    if (now - this.keysCheckedAt < KEY_RECHECK_MS) return undefined
    this.keysCheckedAt = now
    const {Keyring} = await import('../keys/keyring.js')
    const keyring = await Keyring.load(await this.store.listKeys())
    return keyring.kids.join() === loaded.join() ? undefined : keyring
  }

  private loadVerifier(): Promise<TokenVerifier> {
    this.verifierLoading ??= (async () => {
      const [{TokenVerifier}, {Keyring}] = await Promise.all([import('./verifier.js'), import('../keys/keyring.js')])
      const verifier = new TokenVerifier({
        issuer: this.state?.issuer ?? DEFAULT_ISSUER,
        audience: this.state?.audience ?? DEFAULT_AUDIENCE,
        keyring: await Keyring.load(await this.store.listKeys()),
        refreshKeys: (loaded) => this.refreshKeys(loaded),
        lookup: (claims, kid) => this.store.getTokenState(claims.jti, kid),
        onVerified: (jti, at) => this.lastUsed.record(jti, at),
        now: this.now,
      })
      this.verifier = verifier
      return verifier
    })().catch((error: unknown) => {
      this.verifierLoading = undefined
      throw error
    })
    return this.verifierLoading
  }

  private async ensureInitialized(): Promise<StoredIssuer> {
    if (!this.state) await this.initialize({})
    return this.state!
  }

  /**
   * Creates the first signing key and the issuer row. Several processes may race here on a new
   * CAPE_HOME: the store lets exactly one win, the others adopt the winner's issuer.
   */
  private async initialize(input: InitIssuerInput): Promise<boolean> {
    const algorithm = input.algorithm ?? DEFAULT_ALGORITHM
    const issuer = validateLabel('issuer', input.issuer ?? DEFAULT_ISSUER, LIMITS.issuer)
    const audience = [...new Set(input.audience?.length ? input.audience : DEFAULT_AUDIENCE)].map((entry) =>
      validateLabel('audience', entry, LIMITS.audience),
    )
    const subject = validateLabel('subject', input.defaultSubject ?? defaultSubject(), LIMITS.subject)

    const {generateSigningKey} = await import('../keys/signing-key.js')
    const key = await generateSigningKey(algorithm)
    const createdAt = this.now()
    // The private key is on disk before its row exists, so a committed issuer always has its key.
    writePrivateKey(this.keysDir, key.kid, key.privateJwk)
    const won = await this.store.initIssuer(
      {issuer, audience, algorithm, defaultSubject: subject, activeKid: key.kid, createdAt},
      {
        kid: key.kid,
        alg: algorithm,
        publicJwk: JSON.stringify(key.publicJwk),
        createdAt,
        retiredAt: null,
        foreign: null,
      },
    )
    if (!won) rmSync(privateKeyPath(this.keysDir, key.kid), {force: true})
    await this.load()
    return won
  }

  private loadSigner(issuer: StoredIssuer): Promise<TokenSigner> {
    this.signer ??= import('../keys/token-signer.js')
      .then(({TokenSigner}) => TokenSigner.load(this.keysDir, issuer.activeKid, issuer.algorithm))
      .catch((error: unknown) => {
        // Not cached: a key file put back in place should work on the next call.
        this.signer = undefined
        throw error
      })
    return this.signer
  }

  private statusOf(token: StoredToken): TokenStatus {
    if (token.revokedAt !== null) return 'revoked'
    return token.expiresAt !== null && token.expiresAt <= this.now() ? 'expired' : 'active'
  }

  private toRecord(token: StoredToken): TokenRecord {
    return {
      id: token.jti,
      name: token.name,
      description: token.description,
      subject: token.subject,
      scopes: token.scopes,
      kid: token.kid,
      status: this.statusOf(token),
      createdAt: iso(token.createdAt),
      expiresAt: isoOrNull(token.expiresAt),
      revokedAt: isoOrNull(token.revokedAt),
      lastUsedAt: isoOrNull(token.lastUsedAt),
      account: token.account,
    }
  }
}

function toSettings({activeKid: _activeKid, createdAt: _createdAt, ...settings}: StoredIssuer): IssuerSettings {
  return settings
}

function defaultSubject(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'cape'
  }
}

function notFound(id: string): CapeError {
  return new CapeError('token_not_found', `no token with id ${id}`)
}

const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms))
