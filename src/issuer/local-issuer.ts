import {join} from 'node:path'

import {peekClaims} from '../core/base64url-json.js'
import {checkSeconds, describeDuration} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import {describeFsError} from '../fs/describe-error.js'
import {ensurePrivateDir} from '../fs/secure-files.js'
import {openStore} from '../store/open-store.js'
import type {Store, StoredIssuer, StoredToken} from '../store/types.js'
import {AuditRecorder} from './audit-recorder.js'
import {DEFAULT_AUDIENCE, DEFAULT_ISSUER} from './defaults.js'
import {InstanceBeacon} from './instance-beacon.js'
import {initializeIssuer, lifetimeWithinPolicy} from './issuer-setup.js'
import {LastUsedRecorder} from './last-used.js'
import {detectReuse, SharedRateLimits} from './lineage.js'
import {LoadedKeys} from './loaded-keys.js'
import {exportPreparedToken, importPreparedToken, preparedTokenState} from './prepared-token-exchange.js'
import {iso, newStoredToken, notFound, statusOf, toRecord, toSettings} from './records.js'
import {LIMITS, normalizeScopes, validateDescription, validateLabel} from './rules.js'
import {describeServing, revocationSource} from './serving.js'
import {describeSigningKeys, newSigningKey, retireSigningKey} from './signing-keys.js'
import {TokenStateMirror, type MirrorStatus} from './token-state-mirror.js'
import {claimsFor} from './token-claims.js'
import {newTokenId} from './token-id.js'
import type {TokenVerifier} from './verifier.js'
import type {
  AuditEvent,
  CreatedToken,
  CreateTokenInput,
  InitIssuerInput,
  IssuerAdmin,
  IssuerClient,
  IssuerSettings,
  IssuerStatus,
  Jwks,
  ListTokensOptions,
  PublicJwk,
  Restrictions,
  RevocationSource,
  RevokedToken,
  RevokeTokenOptions,
  RotatedToken,
  RotateTokenInput,
  SigningKeyInfo,
  TokenGrant,
  TokenRecord,
  VerifyOptions,
  VerifyResult,
} from './types.js'

export interface LocalIssuerOptions {
  /** The data directory: `cape.db` and `keys/` live here. */
  home: string
  /** A postgres:// URL: the store is that database instead of `cape.db` (keys stay in `home`). */
  databaseUrl?: string | undefined
  /** Epoch milliseconds; tests move the clock. */
  now?: () => number
  /** How long without hearing the store before verification fails closed (default 5 s). */
  staleAfterMs?: number
}

/**
 * The issuer on this machine: the store for metadata and public keys, private keys in 0600
 * files or the keychain. The token operations live here; keys and their reloading, signing-key
 * administration, prepared tokens, set-up and policy, and records each have a file of their own.
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

    const store = await openStore(options)
    try {
      const issuer = new LocalIssuer(store, join(options.home, 'keys'), options.now ?? Date.now, new TokenStateMirror(store, {staleAfterMs: options.staleAfterMs}))
      try {
        await Promise.all([issuer.keys.load(), issuer.mirror.start()])
      } catch (error) {
        issuer.mirror.close()
        throw error
      }

      return issuer
    } catch (error) {
      await store.close()
      throw error
    }
  }

  private readonly keys: LoadedKeys
  private readonly lastUsed: LastUsedRecorder
  private readonly audit: AuditRecorder
  private readonly rateLimits: SharedRateLimits
  private beacon: InstanceBeacon | undefined

  private constructor(
    private readonly store: Store,
    private readonly keysDir: string,
    private readonly now: () => number,
    private readonly mirror: TokenStateMirror,
  ) {
    this.keys = new LoadedKeys(store, keysDir, (issuer) => this.makeVerifier(issuer), now)
    this.lastUsed = new LastUsedRecorder((uses) => this.store.recordLastUsed(uses))
    this.audit = new AuditRecorder((events) => this.store.appendAudit(events))
    this.rateLimits = new SharedRateLimits(store)
  }

  /** The issuer's settings, or undefined while it has not been set up. */
  async settings(): Promise<IssuerSettings | undefined> {
    const issuer = this.keys.loadedIssuer
    return issuer && toSettings(issuer)
  }

  /** Sets the issuer up explicitly; refuses when it already exists, since keys and tokens depend on it. */
  async init(input: InitIssuerInput = {}): Promise<IssuerSettings> {
    const won = this.keys.loadedIssuer === undefined && (await initializeIssuer(this.store, this.keysDir, input, this.now()))
    await this.keys.load()
    const issuer = this.keys.loadedIssuer!
    if (!won) {
      throw new CapeError(
        'issuer_already_initialized',
        `the issuer is already set up (iss ${issuer.issuer}, alg ${issuer.algorithm}); use another CAPE_HOME for another issuer`,
      )
    }

    return toSettings(issuer)
  }

  async createToken(input: CreateTokenInput): Promise<CreatedToken> {
    // Checked before the issuer is set up: bad input must not leave a new key behind.
    const fields = {
      name: validateLabel('name', input.name, LIMITS.name),
      description: validateDescription(input.description),
      scopes: normalizeScopes(input.scopes),
      account: input.account === undefined ? null : validateLabel('account', input.account, LIMITS.account),
      restrictions: input.restrictions ? await checkedRestrictions(input.restrictions) : null,
      parent: input.parent ?? null,
    }
    const lifetime = input.expiresInSeconds === undefined ? undefined : checkSeconds('the lifetime', input.expiresInSeconds)
    const issuer = await this.ensureInitialized()
    const {stored, token} = await this.mint(issuer, {
      ...fields,
      subject: validateLabel('subject', input.subject ?? issuer.defaultSubject, LIMITS.subject),
      lifetimeSeconds: lifetimeWithinPolicy(issuer, lifetime),
      notAfter: input.notAfter,
    })
    // Committed before anyone sees the token: a printed token always verifies.
    await this.store.insertToken(stored, [{jti: stored.jti, at: stored.createdAt, event: 'created', detail: null, count: 1}])
    return {...toRecord(stored, this.now()), token}
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
    const status = statusOf(previous, this.now())
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
      lifetimeSeconds: lifetimeWithinPolicy(issuer, lifetime, {clamp: true}),
      notAfter: input.notAfter,
    })
    const revokeAt = stored.createdAt + (input.graceSeconds ?? 0) * 1000
    const rotated = await this.store.rotateToken(previous.jti, stored, revokeAt)
    this.mirror.changedHere([previous.jti])
    if (!rotated) throw new CapeError('token_inactive', `token ${id} was revoked or rotated meanwhile; nothing was created`)

    const grace = input.graceSeconds ? `; it keeps working for ${describeDuration(input.graceSeconds)}` : ''
    await this.store.appendAudit([
      {jti: previous.jti, at: stored.createdAt, event: 'rotated', detail: `replaced by ${stored.jti}${grace}`, count: 1},
      {jti: stored.jti, at: stored.createdAt, event: 'created', detail: `by rotation of ${previous.jti}`, count: 1},
    ])
    return {...toRecord(stored, this.now()), token, previous: await this.getToken(previous.jti)}
  }

  async tokenTrail(id: string): Promise<AuditEvent[]> {
    await this.audit.flush()
    if (!(await this.store.getToken(id))) throw notFound(id)
    return (await this.store.listAudit(id)).map((entry) => ({
      at: iso(entry.at),
      event: entry.event,
      detail: entry.detail,
      count: entry.count,
    }))
  }

  async listTokens(options: ListTokensOptions = {}): Promise<TokenRecord[]> {
    const now = this.now()
    const listed = await this.store.listTokens({includeRevoked: options.includeRevoked ?? false, subject: options.subject, now})
    const tokens = options.account === undefined ? listed : listed.filter((token) => token.account === options.account)
    return tokens.map((token) => toRecord(token, now))
  }

  async getToken(id: string): Promise<TokenRecord> {
    const token = await this.store.getToken(id)
    if (!token) throw notFound(id)
    return toRecord(token, this.now())
  }

  /** With `cascade`, its descendants go too; a revoked token can still be cascaded from, to reach children it left alive. */
  async revokeToken(id: string, options: RevokeTokenOptions = {}): Promise<RevokedToken> {
    const at = this.now()
    const {outcome, descendants} = await this.store.revokeToken(id, at, {cascade: options.cascade ?? false})
    this.mirror.changedHere([id, ...descendants])
    if (outcome === 'not_found') throw notFound(id)
    if (outcome === 'already_revoked' && descendants.length === 0) {
      throw new CapeError('token_already_revoked', `token ${id} is already revoked${options.cascade ? ', and so are its descendants' : ''}`)
    }

    await this.store.appendAudit([
      ...(outcome === 'revoked' ? [{jti: id, at, event: 'revoked' as const, detail: descendants.length ? `with ${descendants.length} descendant(s)` : null, count: 1}] : []),
      ...descendants.map((jti) => ({jti, at, event: 'revoked' as const, detail: `with its ancestor ${id}`, count: 1})),
    ])
    const record = await this.getToken(id)
    return options.cascade ? {...record, cascaded: descendants} : record
  }

  /**
   * Loads what verification needs (jose, the public keys) ahead of the first verifyToken, so a
   * caller waiting on something else, such as the OS keychain, can overlap the two.
   */
  async prepareToVerify(): Promise<void> {
    await this.keys.currentVerifier()
  }

  verifyToken(token: string, options?: VerifyOptions): Promise<VerifyResult> {
    if (options?.purpose === 'check') return this.checkToken(token, options)
    const ready = this.keys.ready
    if (ready) return ready.verify(token, options)
    return this.keys.currentVerifier().then((verifier) => verifier.verify(token, options))
  }

  /** The signing keys of this issuer, oldest first. */
  async signingKeys(): Promise<SigningKeyInfo[]> {
    const issuer = await this.ensureInitialized()
    return describeSigningKeys(await this.store.listKeys(), issuer.activeKid)
  }

  /** A new active signing key; the old ones keep verifying their tokens and stay in the JWKS. */
  async rotateSigningKey(): Promise<SigningKeyInfo> {
    const issuer = await this.ensureInitialized()
    const key = await newSigningKey(this.keysDir, issuer.algorithm, issuer.keyStorage, this.now())
    await this.store.addActiveKey(key)
    await this.keys.load()
    return (await this.signingKeys()).find((info) => info.kid === key.kid)!
  }

  /** Retires a key that no longer signs: its tokens fail with `unknown_key`, the JWKS drops it, its private key is deleted. */
  async retireSigningKey(kid: string): Promise<SigningKeyInfo> {
    await retireSigningKey(this.store, this.keysDir, await this.ensureInitialized(), kid, this.now())
    await this.keys.load()
    return (await this.signingKeys()).find((info) => info.kid === kid)!
  }

  /** Changes the longest lifetime a new token may have; null lifts the limit. Tokens already made keep theirs. */
  async setMaxLifetime(seconds: number | null): Promise<IssuerSettings> {
    await this.ensureInitialized()
    await this.store.setMaxLifetime(seconds)
    await this.keys.load()
    return toSettings(this.keys.loadedIssuer!)
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

  exportToken(id: string): Promise<string> {
    return exportPreparedToken(this.store, this.keys.loadedIssuer, id, this.now())
  }

  async importToken(bundle: string): Promise<{imported: boolean; token: TokenRecord}> {
    const {id, imported} = await importPreparedToken(this.store, bundle, this.now())
    if (imported) await this.keys.load()
    return {imported, token: await this.getToken(id)}
  }

  /** The revocation state held in memory: how far it has read the store's changes, and when it last heard it. */
  mirrorStatus(): MirrorStatus {
    return this.mirror.status()
  }

  /** For a serving process: report it to the store every few seconds, for `issuer status`. */
  async announce(): Promise<void> {
    this.beacon ??= new InstanceBeacon(this.store, this.mirror, this.now)
    await this.beacon.start()
  }

  status(): Promise<IssuerStatus> {
    return describeServing(this.store, this.keys.loadedIssuer?.issuer ?? null, this.now())
  }

  revocationFeed(): RevocationSource {
    return revocationSource(this.store, this.mirror, this.now)
  }

  async close(): Promise<void> {
    await this.beacon?.stop()
    this.mirror.close()
    this.keys.close()
    await Promise.all([this.lastUsed.flush(), this.audit.flush()])
    await this.store.close()
  }

  /** The owner's check: nothing recorded; a token rotated away names its successor. */
  private async checkToken(token: string, options: VerifyOptions): Promise<VerifyResult> {
    const result = await (await this.keys.currentVerifier()).verify(token, options)
    if (result.valid || result.reason !== 'revoked') return result
    const jti = peekClaims(token)?.jti
    const successor = typeof jti === 'string' ? (await this.store.getToken(jti))?.rotatedTo : null
    return successor ? {...result, successor} : result
  }

  private async makeVerifier(issuer: StoredIssuer | undefined): Promise<TokenVerifier> {
    const [{TokenVerifier}, {Keyring}] = await Promise.all([import('./verifier.js'), import('../keys/keyring.js')])
    return new TokenVerifier({
      issuer: issuer?.issuer ?? DEFAULT_ISSUER,
      audience: issuer?.audience ?? DEFAULT_AUDIENCE,
      keyring: await Keyring.load(await this.store.listKeys()),
      lookup: (claims, foreignKid, token) =>
        foreignKid === undefined ? this.mirror.state(claims.jti) : preparedTokenState(this.store, claims, foreignKid, token),
      onVerified: (jti, at, ip) => this.lastUsed.record(jti, at, ip ?? null),
      onRefused: (jti, reason, at, request) =>
        this.audit.record({jti, at, event: 'refused', detail: request?.ip ? `${reason} from ${request.ip}` : reason}),
      onRevokedUse: async (jti, at) => this.mirror.changedHere(await detectReuse(this.store, jti, at)),
      countUse: (jti, windowStart) => this.store.countUse(jti, windowStart),
      peekUse: (jti, windowStart) => this.store.peekUse(jti, windowStart),
      countAncestorUses: (jti, now, purpose) => this.rateLimits.countAncestorUses(jti, now, purpose),
      now: this.now,
    })
  }

  /** Signs a new token; nothing is stored yet. */
  private async mint(
    issuer: StoredIssuer,
    fields: Omit<TokenGrant<number>, 'kid' | 'createdAt' | 'expiresAt'> & {
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
    const signer = await this.keys.signerFor(issuer)
    const stored = newStoredToken(newTokenId(), {
      ...metadata,
      kid: signer.kid,
      createdAt,
      expiresAt: expiresAtSeconds === undefined ? null : expiresAtSeconds * 1000,
    })
    const token = await signer.sign(claimsFor(stored, issuer))
    return {stored, token}
  }

  /** The issuer as it stands now, set up on first use (the first `token create` on a new CAPE_HOME). */
  private async ensureInitialized(): Promise<StoredIssuer> {
    const issuer = await this.keys.currentIssuer()
    if (issuer) return issuer
    await initializeIssuer(this.store, this.keysDir, {}, this.now())
    await this.keys.load()
    return this.keys.loadedIssuer!
  }
}

/** Restrictions as stored: checked, and in a stable order. */
async function checkedRestrictions(input: NonNullable<CreateTokenInput['restrictions']>): Promise<Restrictions | null> {
  const {normalizeRestrictions} = await import('./restrictions.js')
  return normalizeRestrictions(input)
}
