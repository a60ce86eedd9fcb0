import type {TokenSigner} from '../keys/token-signer.js'
import type {Store, StoredIssuer} from '../store/types.js'
import {instanceSigningKey} from './signing-keys.js'
import type {TokenVerifier} from './verifier.js'

/** How often a process asks the store whether the key set changed (a rotation, a retirement, an import). */
const KEY_RECHECK_MS = 1000

/**
 * What a process has loaded of the issuer: its row (settings, active kid), its signer and its
 * verifier. At most once a second it asks the store for the key epoch; when another process
 * rotated, retired or imported a key, all of it is dropped and loaded again on next use, so a
 * retired key stops verifying, and a new one starts signing, within a second. The store may
 * answer at once (SQLite) or later (a database over the network): the check awaits it either way.
 */
export class LoadedKeys {
  private issuer: StoredIssuer | undefined
  private epoch = 0
  /** Raised once a second by a timer, so the hot path tests a boolean, not the clock. */
  private checkDue = true
  private readonly timer: NodeJS.Timeout
  /** Set when keys changed: the issuer row (its active kid) is read again before it is used. */
  private stale = false
  private signer: Promise<TokenSigner> | undefined
  private verifier: TokenVerifier | undefined
  private verifierLoading: Promise<TokenVerifier> | undefined

  constructor(
    private readonly store: Store,
    private readonly keysDir: string,
    /** Builds the verifier for the issuer as loaded (undefined: not set up yet). */
    private readonly makeVerifier: (issuer: StoredIssuer | undefined) => Promise<TokenVerifier>,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => (this.checkDue = true), KEY_RECHECK_MS).unref()
  }

  /** Reads the issuer row and the key epoch afresh, forgetting whatever was loaded. */
  async load(): Promise<void> {
    this.epoch = await this.store.keyEpoch()
    this.issuer = await this.store.getIssuer()
    this.forget()
  }

  /** The verifier, when it is loaded and no key check is due: the hot path, with no promise. */
  get ready(): TokenVerifier | undefined {
    return this.checkDue ? undefined : this.verifier
  }

  /** The verifier for the key set as it stands now. */
  async currentVerifier(): Promise<TokenVerifier> {
    const issuer = await this.currentIssuer()
    if (this.verifierLoading) return this.verifierLoading
    const loading: Promise<TokenVerifier> = this.makeVerifier(issuer).then(
      (verifier) => {
        // Keys may have changed while it loaded: then it serves this call, and is not kept.
        if (this.verifierLoading === loading) this.verifier = verifier
        return verifier
      },
      (error: unknown) => {
        if (this.verifierLoading === loading) this.verifierLoading = undefined
        throw error
      },
    )
    this.verifierLoading = loading
    return loading
  }

  /** The issuer row as it stands now; undefined while the issuer is not set up. */
  async currentIssuer(): Promise<StoredIssuer | undefined> {
    await this.recheck()
    if (this.stale) {
      this.issuer = await this.store.getIssuer()
      this.stale = false
    }

    return this.issuer
  }

  /** The row last loaded, without asking the store. */
  get loadedIssuer(): StoredIssuer | undefined {
    return this.issuer
  }

  /** The signer of this process's key (the issuer's active key, unless the store is shared), imported once. */
  signerFor(issuer: StoredIssuer): Promise<TokenSigner> {
    this.signer ??= Promise.all([import('../keys/token-signer.js'), instanceSigningKey(this.store, this.keysDir, issuer, this.now())])
      .then(([{TokenSigner}, {kid, privateJwk}]) => TokenSigner.load(privateJwk, kid, issuer.algorithm))
      .catch((error: unknown) => {
        // Not cached: a key file put back in place should work on the next call.
        this.signer = undefined
        throw error
      })
    return this.signer
  }

  close(): void {
    clearInterval(this.timer)
  }

  private async recheck(): Promise<void> {
    if (!this.checkDue) return
    this.checkDue = false
    const epoch = await this.store.keyEpoch()
    if (epoch === this.epoch) return
    this.epoch = epoch
    this.forget()
    this.stale = true
  }

  /** Whatever was learnt about keys no longer holds: loaded again on next use. */
  private forget(): void {
    this.verifier = undefined
    this.verifierLoading = undefined
    this.signer = undefined
  }
}
