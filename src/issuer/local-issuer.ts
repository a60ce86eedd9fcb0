import {userInfo} from 'node:os'
import {join} from 'node:path'

import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir} from '../fs/secure-files.js'
import {privateKeyStore} from '../keys/private-key-store.js'
import type {TokenSigner} from '../keys/token-signer.js'
import {SqliteStore} from '../store/sqlite-store.js'
import type {Store, StoredIssuer, StoredKey, StoredToken, TokenState} from '../store/types.js'
import {AuditRecorder} from './audit-recorder.js'
import {DEFAULT_ALGORITHM, DEFAULT_AUDIENCE, DEFAULT_ISSUER} from './defaults.js'
import {checkSeconds, describeDuration, LATEST_TIME_MS} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import {LastUsedRecorder} from './last-used.js'
import type {PreparedToken} from './prepared-token.js'
import {LIMITS, normalizeScopes, validateDescription, validateLabel} from './rules.js'
import {claimsFor, decodeJsonSegment, headerFor, sameJson} from './token-claims.js'
import {newTokenId} from './token-id.js'
import type {TokenVerifier} from './verifier.js'
import type {
  Algorithm,
  AuditEvent,
  CreatedToken,
  CreateTokenInput,
  InitIssuerInput,
  IssuerAdmin,
  IssuerClient,
  IssuerSettings,
  Jwks,
  ListTokensOptions,
  PublicJwk,
  Restrictions,
  RateLimitStatus,
  RevokedToken,
  RevokeTokenOptions,
  RotatedToken,
  RotateTokenInput,
  SigningKeyInfo,
  TokenClaims,
  TokenRecord,
  TokenStatus,
  VerifyOptions,
  VerifyResult,
} from './types.js'

/** A token a rate-limited token was minted through, and that token's own rate limit. */
interface RateLimitedAncestor {
  jti: string
  rateLimit: NonNullable<Restrictions['rateLimit']>
}

/** Lineages of rate-limited tokens kept in memory; past this many they are read again. */
const ANCESTORS_KEPT = 10_000

/** How often a process asks the store whether the key set changed (a rotation, a retirement, an import). */
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
export class LocalIssuer implements IssuerClient, IssuerAdmin {
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
  private readonly audit: AuditRecorder
  /** Raised once a second by a timer, so the hot path tests a boolean, not the clock. */
  private keysCheckDue = true
  private readonly keysCheckTimer: NodeJS.Timeout
  private keyEpoch = 0
  private readonly ancestors = new Map<string, readonly RateLimitedAncestor[]>()
  /** Set when keys changed: the issuer row (its active kid) is read again before signing. */
  private stateStale = false

  private constructor(
    private readonly store: Store,
    private readonly keysDir: string,
    private readonly now: () => number,
  ) {
    this.lastUsed = new LastUsedRecorder((uses) => this.store.recordLastUsed(uses))
    this.audit = new AuditRecorder((events) => this.store.appendAudit(events))
    this.keysCheckTimer = setInterval(() => (this.keysCheckDue = true), KEY_RECHECK_MS).unref()
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
    // Checked before the issuer is set up: bad input must not leave a new key behind.
    const fields = {
      name: validateLabel('name', input.name, LIMITS.name),
      description: validateDescription(input.description),
      scopes: normalizeScopes(input.scopes),
      account: input.account === undefined ? null : validateLabel('account', input.account, LIMITS.account),
      restrictions: input.restrictions ? await restrictionsJson(input.restrictions) : null,
      parent: input.parent ?? null,
    }
    const issuer = await this.ensureInitialized()
    const {stored, token} = await this.mint(issuer, {
      ...fields,
      subject: validateLabel('subject', input.subject ?? issuer.defaultSubject, LIMITS.subject),
      lifetimeSeconds: this.lifetimeWithinPolicy(issuer, input.expiresInSeconds === undefined ? undefined : checkSeconds('the lifetime', input.expiresInSeconds)),
      notAfter: input.notAfter,
    })
    // Committed before anyone sees the token: a printed token always verifies.
    await this.store.insertToken(stored, [{jti: stored.jti, at: stored.createdAt, event: 'created', detail: null, count: 1}])
    return {...this.toRecord(stored), token}
  }

  /**
   * A new token in the old one's place, with its name, description, scopes, account,
   * restrictions and lifetime (from now, within the policy). The old one is revoked now, or at
   * the end of `graceSeconds`; using it after that revokes the new one too (reuse detection).
   */
  async rotateToken(id: string, input: RotateTokenInput = {}): Promise<RotatedToken> {
    if (input.graceSeconds !== undefined && input.graceSeconds !== 0) checkSeconds('the grace period', input.graceSeconds)
    const previous = await this.store.getToken(id)
    if (!previous) throw notFound(id)
    const status = this.statusOf(previous)
    if (status !== 'active') throw new CapeError('token_inactive', `token ${id} is ${status}: there is nothing to rotate`)
    if (previous.rotatedTo !== null) {
      throw new CapeError('token_inactive', `token ${id} was already rotated (to ${previous.rotatedTo})`)
    }

    const issuer = await this.ensureInitialized()
    // exp - iat, as signed: both whole seconds.
    const lifetime = previous.expiresAt === null ? undefined : previous.expiresAt / 1000 - Math.floor(previous.createdAt / 1000)
    const {stored, token} = await this.mint(issuer, {
      name: previous.name,
      description: previous.description,
      scopes: previous.scopes,
      subject: previous.subject,
      account: previous.account,
      restrictions: previous.restrictions,
      // It takes the old one's place in the lineage, so a cascade from its parent still reaches it.
      parent: previous.parent,
      lifetimeSeconds: this.lifetimeWithinPolicy(issuer, lifetime, {clamp: true}),
      notAfter: input.notAfter,
    })
    const revokeAt = stored.createdAt + (input.graceSeconds ?? 0) * 1000
    if (!(await this.store.rotateToken(previous.jti, stored, revokeAt))) {
      throw new CapeError('token_inactive', `token ${id} was revoked or rotated meanwhile; nothing was created`)
    }

    const grace = input.graceSeconds ? `; it keeps working for ${describeDuration(input.graceSeconds)}` : ''
    await this.store.appendAudit([
      {jti: previous.jti, at: stored.createdAt, event: 'rotated', detail: `replaced by ${stored.jti}${grace}`, count: 1},
      {jti: stored.jti, at: stored.createdAt, event: 'created', detail: `by rotation of ${previous.jti}`, count: 1},
    ])
    return {...this.toRecord(stored), token, previous: await this.getToken(previous.jti)}
  }

  async tokenTrail(id: string): Promise<AuditEvent[]> {
    await this.audit.flush()
    if (!(await this.store.getToken(id))) throw notFound(id)
    return (await this.store.listAudit(id)).map((entry) => ({
      at: iso(entry.at),
      event: entry.event as AuditEvent['event'],
      detail: entry.detail,
      count: entry.count,
    }))
  }

  async listTokens(options: ListTokensOptions = {}): Promise<TokenRecord[]> {
    const listed = await this.store.listTokens({includeRevoked: options.includeRevoked ?? false, subject: options.subject, now: this.now()})
    const tokens = options.account === undefined ? listed : listed.filter((token) => token.account === options.account)
    return tokens.map((token) => this.toRecord(token))
  }

  async getToken(id: string): Promise<TokenRecord> {
    const token = await this.store.getToken(id)
    if (!token) throw notFound(id)
    return this.toRecord(token)
  }

  /** With `cascade`, its descendants go too; a revoked token can still be cascaded from, to reach children it left alive. */
  async revokeToken(id: string, options: RevokeTokenOptions = {}): Promise<RevokedToken> {
    const at = this.now()
    const {outcome, descendants} = await this.store.revokeToken(id, at, {cascade: options.cascade ?? false})
    if (outcome === 'not_found') throw notFound(id)
    if (outcome === 'already_revoked' && descendants.length === 0) {
      throw new CapeError('token_already_revoked', `token ${id} is already revoked${options.cascade ? ', and so are its descendants' : ''}`)
    }

    await this.store.appendAudit([
      ...(outcome === 'revoked' ? [{jti: id, at, event: 'revoked', detail: descendants.length ? `with ${descendants.length} descendant(s)` : null, count: 1}] : []),
      ...descendants.map((jti) => ({jti, at, event: 'revoked', detail: `with its ancestor ${id}`, count: 1})),
    ])
    const record = await this.getToken(id)
    return options.cascade ? {...record, cascaded: descendants} : record
  }

  /**
   * Loads what verification needs (jose, the public keys) ahead of the first verifyToken, so a
   * caller waiting on something else, such as the OS keychain, can overlap the two.
   */
  async prepareToVerify(): Promise<void> {
    await this.loadVerifier()
  }

  verifyToken(token: string, options?: VerifyOptions): Promise<VerifyResult> {
    if (options?.purpose === 'check') return this.checkToken(token, options)
    if (this.verifier && !(this.keysCheckDue && this.keySetChanged())) return this.verifier.verify(token, options)
    return this.loadVerifier().then((verifier) => verifier.verify(token, options))
  }

  /** The owner's check: nothing recorded; a token rotated away names its successor. */
  private async checkToken(token: string, options: VerifyOptions): Promise<VerifyResult> {
    this.keySetChanged()
    const result = await (await this.loadVerifier()).verify(token, options)
    if (result.valid || result.reason !== 'revoked') return result
    const jti = decodeJsonSegment(token.split('.')[1])?.jti
    const successor = typeof jti === 'string' ? (await this.store.getToken(jti))?.rotatedTo : null
    return successor ? {...result, successor} : result
  }

  /**
   * At most once a second, asks the store whether another process rotated, retired or
   * imported a key. If so, what was loaded is dropped (the verifier with its signature cache, the
   * signer), so a retired key stops verifying, and a new one starts signing, within a second.
   */
  private keySetChanged(): boolean {
    if (!this.keysCheckDue) return false
    this.keysCheckDue = false
    const epoch = this.store.keyEpoch()
    if (typeof epoch !== 'number' || epoch === this.keyEpoch) return false
    this.keyEpoch = epoch
    this.forgetKeys()
    return true
  }

  /** The signing keys of this issuer, oldest first. */
  async signingKeys(): Promise<SigningKeyInfo[]> {
    const issuer = await this.ensureInitialized()
    return (await this.store.listKeys())
      .filter((key) => key.foreign === null)
      .map((key) => ({
        kid: key.kid,
        alg: key.alg,
        status: key.retiredAt !== null ? 'retired' : key.kid === issuer.activeKid ? 'active' : 'verifying',
        createdAt: iso(key.createdAt),
        retiredAt: isoOrNull(key.retiredAt),
      }))
  }

  /** A new active signing key; the old ones keep verifying their tokens and stay in the JWKS. */
  async rotateSigningKey(): Promise<SigningKeyInfo> {
    const issuer = await this.ensureInitialized()
    const key = await this.newSigningKey(issuer.algorithm, issuer.keyStorage)
    await this.store.addActiveKey(key)
    await this.load()
    return (await this.signingKeys()).find((info) => info.kid === key.kid)!
  }

  /** Retires a key that no longer signs: its tokens fail with `unknown_key`, the JWKS drops it, its private key is deleted. */
  async retireSigningKey(kid: string): Promise<SigningKeyInfo> {
    const issuer = await this.ensureInitialized()
    const outcome = await this.store.retireKey(kid, this.now())
    if (outcome === 'not_found') throw new CapeError('key_not_found', `no signing key ${kid} of this issuer`)
    if (outcome === 'active') throw new CapeError('key_active', `key ${kid} is the active key: rotate first ("cape issuer keys rotate")`)
    if (outcome === 'already_retired') throw new CapeError('key_not_found', `key ${kid} is already retired`)
    await (await privateKeyStore(issuer.keyStorage, this.keysDir)).remove(kid)
    await this.load()
    return (await this.signingKeys()).find((info) => info.kid === kid)!
  }

  /** Changes the longest lifetime a new token may have; null lifts the limit. Tokens already made keep theirs. */
  async setMaxLifetime(seconds: number | null): Promise<IssuerSettings> {
    await this.ensureInitialized()
    await this.store.setMaxLifetime(seconds)
    await this.load()
    return toSettings(this.state!)
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
        restrictions: token.restrictions === null ? null : (JSON.parse(token.restrictions) as Restrictions),
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

    if (outcome === 'imported') {
      await this.store.appendAudit([{jti: token.jti, at: this.now(), event: 'imported', detail: `from ${key.foreign!.issuer}`, count: 1}])
      await this.load()
    }

    return {imported: outcome === 'imported', token: await this.getToken(token.jti)}
  }

  async close(): Promise<void> {
    clearInterval(this.keysCheckTimer)
    await Promise.all([this.lastUsed.flush(), this.audit.flush()])
    this.store.close()
  }

  private async load(): Promise<void> {
    this.keyEpoch = await this.store.keyEpoch()
    this.state = await this.store.getIssuer()
    this.forgetKeys()
    this.stateStale = false
  }

  /** Whatever was learnt about keys no longer holds: loaded again on next use. */
  private forgetKeys(): void {
    this.verifier = undefined
    this.verifierLoading = undefined
    this.signer = undefined
    this.stateStale = true
  }

  private loadVerifier(): Promise<TokenVerifier> {
    this.verifierLoading ??= (async () => {
      const [{TokenVerifier}, {Keyring}] = await Promise.all([import('./verifier.js'), import('../keys/keyring.js')])
      const verifier = new TokenVerifier({
        issuer: this.state?.issuer ?? DEFAULT_ISSUER,
        audience: this.state?.audience ?? DEFAULT_AUDIENCE,
        keyring: await Keyring.load(await this.store.listKeys()),
        lookup: (claims, foreignKid, token) =>
          foreignKid === undefined ? this.store.getTokenState(claims.jti) : this.preparedTokenState(claims, foreignKid, token),
        onVerified: (jti, at, ip) => this.lastUsed.record(jti, at, ip ?? null),
        onRefused: (jti, reason, at, request) =>
          this.audit.record({jti, at, event: 'refused', detail: request?.ip ? `${reason} from ${request.ip}` : reason}),
        onRevokedUse: (jti, at) => this.detectReuse(jti, at),
        countUse: (jti, windowStart) => this.store.countUse(jti, windowStart),
        peekUse: (jti, windowStart) => this.store.peekUse(jti, windowStart),
        countAncestorUses: (jti, now, purpose) => this.countAncestorUses(jti, now, purpose),
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

  /**
   * A key imported with a prepared token vouches for exactly the token exported: the same header
   * and the same claims, all of them, as its stored metadata gives. Anything else its holder
   * signs under that jti is a token nobody here granted: `unknown_token`.
   */
  private async preparedTokenState(claims: Readonly<TokenClaims>, kid: string, token: string): Promise<TokenState | undefined> {
    const [stored, keys] = await Promise.all([this.store.getToken(claims.jti), this.store.listKeys()])
    const key = keys.find((candidate) => candidate.kid === kid)
    if (!stored || stored.kid !== kid || !key?.foreign) return undefined
    const header = decodeJsonSegment(token.split('.')[0])
    if (!sameJson(header, headerFor(key.alg, kid)) || !sameJson(claims, claimsFor(stored, key.foreign))) return undefined
    return {name: stored.name, revokedAt: stored.revokedAt, account: stored.account}
  }

  /**
   * A token minted through a rate-limited one spends its ancestors' budgets too: otherwise minting
   * children would multiply the limit. Each ancestor's own window counts the use.
   */
  private async countAncestorUses(jti: string, now: number, purpose: 'use' | 'check'): Promise<RateLimitStatus | undefined> {
    for (const ancestor of await this.rateLimitedAncestors(jti)) {
      const {maxRequests, timeWindow} = ancestor.rateLimit
      const windowStart = Math.floor(now / 1000 / timeWindow) * timeWindow
      const count = purpose === 'use' ? await this.store.countUse(ancestor.jti, windowStart) : (await this.store.peekUse(ancestor.jti, windowStart)) + 1
      if (count > maxRequests) return {limit: maxRequests, remaining: 0, resetAt: windowStart + timeWindow}
    }

    return undefined
  }

  /** A token's lineage never changes, nor do restrictions: read once per token, then kept. */
  private async rateLimitedAncestors(jti: string): Promise<readonly RateLimitedAncestor[]> {
    const known = this.ancestors.get(jti)
    if (known) return known
    const found: RateLimitedAncestor[] = []
    const seen = new Set([jti])
    let parent = (await this.store.getToken(jti))?.parent ?? null
    while (parent !== null && !seen.has(parent)) {
      seen.add(parent)
      const token = await this.store.getToken(parent)
      const rateLimit = token?.restrictions ? (JSON.parse(token.restrictions) as Restrictions).rateLimit : undefined
      if (token && rateLimit) found.push({jti: token.jti, rateLimit})
      parent = token?.parent ?? null
    }

    if (this.ancestors.size >= ANCESTORS_KEPT) this.ancestors.clear()
    this.ancestors.set(jti, found)
    return found
  }

  /** GitLab's reuse detection: a rotated-away token used again means it leaked, so its successors go too. */
  private async detectReuse(jti: string, at: number): Promise<void> {
    const revoked = await this.store.revokeSuccessors(jti, at)
    if (revoked.length === 0) return
    await this.store.appendAudit([
      {jti, at, event: 'reuse_detected', detail: `used after its rotation: revoked ${revoked.join(', ')}`, count: 1},
      ...revoked.map((successor) => ({jti: successor, at, event: 'revoked', detail: `reuse of ${jti} after its rotation`, count: 1})),
    ])
  }

  /** Signs a new token; nothing is stored yet. */
  private async mint(
    issuer: StoredIssuer,
    fields: Pick<StoredToken, 'name' | 'description' | 'scopes' | 'subject' | 'account' | 'restrictions' | 'parent'> & {
      lifetimeSeconds: number | undefined
      /** Epoch milliseconds the expiry may not pass: a token minted or rotated through another ends no later. */
      notAfter: number | undefined
    },
  ): Promise<{stored: StoredToken; token: string}> {
    const {lifetimeSeconds, notAfter, ...metadata} = fields
    const createdAt = this.now()
    const issuedAt = Math.floor(createdAt / 1000)
    const asked = lifetimeSeconds === undefined ? undefined : issuedAt + lifetimeSeconds
    const cap = notAfter === undefined ? undefined : Math.floor(notAfter / 1000)
    const expiresAtSeconds = cap === undefined ? asked : Math.min(asked ?? cap, cap)
    const stored: StoredToken = {
      ...metadata,
      jti: newTokenId(),
      kid: issuer.activeKid,
      createdAt,
      expiresAt: expiresAtSeconds === undefined ? null : expiresAtSeconds * 1000,
      revokedAt: null,
      lastUsedAt: null,
      rotatedTo: null,
      lastUsedIp: null,
    }
    const token = await (await this.loadSigner(issuer)).sign(claimsFor(stored, issuer))
    return {stored, token}
  }

  /**
   * The lifetime a new token gets under the issuer's policy: the maximum when none is asked for,
   * a refusal when more is asked (or, for a rotation, the maximum).
   */
  private lifetimeWithinPolicy(issuer: StoredIssuer, asked: number | undefined, options = {clamp: false}): number | undefined {
    const max = issuer.maxLifetimeSeconds
    if (max === null) return asked
    if (asked === undefined) return max
    if (asked <= max) return asked
    if (options.clamp) return max
    throw new CapeError(
      'invalid_duration',
      `a lifetime of ${describeDuration(asked)} is longer than this issuer allows: at most ${describeDuration(max)}`,
    )
  }

  private async newSigningKey(algorithm: Algorithm, storage: StoredIssuer['keyStorage']): Promise<StoredKey> {
    const {generateSigningKey} = await import('../keys/signing-key.js')
    const key = await generateSigningKey(algorithm)
    // The private key is stored before its row exists, so a committed key always has its private half.
    await (await privateKeyStore(storage, this.keysDir)).write(key.kid, key.privateJwk)
    return {kid: key.kid, alg: algorithm, publicJwk: JSON.stringify(key.publicJwk), createdAt: this.now(), retiredAt: null, foreign: null}
  }

  private async ensureInitialized(): Promise<StoredIssuer> {
    this.keySetChanged()
    if (this.stateStale) await this.load()
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
    const maxLifetimeSeconds = input.maxLifetimeSeconds ?? null
    const keyStorage = input.keyStorage ?? 'file'
    const key = await this.newSigningKey(algorithm, keyStorage)
    const won = await this.store.initIssuer(
      {issuer, audience, algorithm, defaultSubject: subject, activeKid: key.kid, createdAt: key.createdAt, maxLifetimeSeconds, keyStorage},
      key,
    )
    if (!won) await (await privateKeyStore(keyStorage, this.keysDir)).remove(key.kid)
    await this.load()
    return won
  }

  private loadSigner(issuer: StoredIssuer): Promise<TokenSigner> {
    this.signer ??= Promise.all([import('../keys/token-signer.js'), privateKeyStore(issuer.keyStorage, this.keysDir)])
      .then(async ([{TokenSigner}, keys]) => TokenSigner.load(await keys.read(issuer.activeKid), issuer.activeKid, issuer.algorithm))
      .catch((error: unknown) => {
        // Not cached: a key file put back in place should work on the next call.
        this.signer = undefined
        throw error
      })
    return this.signer
  }

  private statusOf(token: StoredToken): TokenStatus {
    if (![token.createdAt, token.expiresAt, token.revokedAt, token.lastUsedAt].every(renderable)) return 'invalid'
    if (token.revokedAt !== null && token.revokedAt <= this.now()) return 'revoked'
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
      restrictions: token.restrictions === null ? null : JSON.parse(token.restrictions),
      rotatedTo: token.rotatedTo,
      lastUsedIp: token.lastUsedIp,
      parent: token.parent,
    }
  }
}

function toSettings({activeKid: _activeKid, createdAt: _createdAt, ...settings}: StoredIssuer): IssuerSettings {
  return settings
}

/** Restrictions as stored, checked and in a stable order. */
async function restrictionsJson(input: NonNullable<CreateTokenInput['restrictions']>): Promise<string | null> {
  const {normalizeRestrictions} = await import('./restrictions.js')
  const restrictions = normalizeRestrictions(input)
  return restrictions === null ? null : JSON.stringify(restrictions)
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

/** A stored time that a date can show; anything else (a row written before times were bounded) marks its token invalid. */
const renderable = (ms: number | null): boolean => ms === null || (Number.isSafeInteger(ms) && ms >= 0 && ms <= LATEST_TIME_MS)
const iso = (ms: number): string => (renderable(ms) ? new Date(ms).toISOString() : 'invalid')
const isoOrNull = (ms: number | null): string | null => (ms === null || !renderable(ms) ? null : iso(ms))
