import {performance} from 'node:perf_hooks'

import {CapeError} from '../core/errors.js'
import type {MaybePromise, Store, TokenChange, TokenState} from '../store/types.js'

/** How long an instance may go without hearing the store before it refuses to vouch for anything. */
export const DEFAULT_STALE_AFTER_MS = 5000
/** How often the store is asked whether anyone else changed a revocation. */
export const WATCH_INTERVAL_MS = 100
/** Enough for every active token of a large issuer; past it, the longest-held entries make way. */
const MAX_ENTRIES = 200_000
const CHANGES_PER_READ = 1000
const CATCH_UP_INTERVAL_MS = 1000
/** How long a lookup that finds the mirror silent waits for the store before it fails closed. */
const ASK_NOW_MS = 250

export interface MirrorOptions {
  staleAfterMs?: number
  watchIntervalMs?: number
}

/** What `cape issuer status` reports of the stream. */
export interface MirrorStatus {
  cursor: number
  /** Milliseconds since the store was last heard; above `staleAfterMs`, verification fails closed. */
  sinceHeardMs: number
  staleAfterMs: number
  entries: number
}

/**
 * The revocation state verification needs, held in memory and fed by the store's change log:
 * a token's state is read once, then kept until the log says it changed. A change this process
 * makes is applied at once (`forget`); a change made elsewhere arrives within one watch interval
 * (PostgreSQL pushes it sooner). When the store has not been heard for `staleAfterMs`, every
 * lookup fails with `issuer_unavailable` rather than answer from state that may be stale.
 */
export class TokenStateMirror {
  private readonly states = new Map<string, TokenState>()
  private readonly staleAfterMs: number
  private readonly timer: NodeJS.Timeout
  private cursor = 0
  private heardAt = performance.now()
  private caughtUpAt = performance.now()
  /** Moves with every batch of changes applied, so a read that raced one is not kept. */
  private generation = 0
  private catchingUp: Promise<void> | undefined
  /** A catch-up asked for while one was running, which may have read the log before the change. */
  private catchUpAgain: Promise<void> | undefined
  private readonly listeners = new Set<(changes: readonly TokenChange[]) => void>()
  private ticking: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly store: Store,
    options: MirrorOptions = {},
  ) {
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS
    this.timer = setInterval(() => void this.tick(), options.watchIntervalMs ?? WATCH_INTERVAL_MS).unref()
    store.watchTokenChanges?.(() => void this.catchUp().catch(() => undefined))
  }

  /** Starts from the change log's newest position: what was read before it is read again anyway. */
  async start(): Promise<void> {
    this.cursor = await this.store.latestTokenChange()
    this.heardAt = performance.now()
  }

  state(jti: string): MaybePromise<TokenState | undefined> {
    // Silent for too long: perhaps the store, perhaps this process was too busy to ask. Ask now,
    // but not for long: a driver may hold a query through an outage rather than fail it, and a
    // request must get its 503 rather than wait for the database to return.
    if (this.silentFor() > this.staleAfterMs) {
      return withinMs(this.tick(), ASK_NOW_MS).then(() => {
        this.assertFresh()
        return this.stateNow(jti)
      })
    }

    return this.stateNow(jti)
  }

  /** This process changed these tokens: whatever is held of them goes now. */
  forget(jtis: Iterable<string>): void {
    for (const jti of jtis) this.states.delete(jti)
    this.generation++
  }

  /**
   * This process changed these tokens: forgotten at once, and the change log read now rather
   * than at the next change made elsewhere, so subscribers hear of it with its position.
   */
  changedHere(jtis: readonly string[]): void {
    if (jtis.length === 0) return
    this.forget(jtis)
    void this.catchUp().catch(() => undefined)
  }

  /** Every batch of changes read from the log, in order, each change once. */
  subscribe(listener: (changes: readonly TokenChange[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Whether the store has been heard within the bound, so what is held may be vouched for. */
  isFresh(): boolean {
    return this.silentFor() <= this.staleAfterMs
  }

  status(): MirrorStatus {
    return {cursor: this.cursor, sinceHeardMs: Math.round(this.silentFor()), staleAfterMs: this.staleAfterMs, entries: this.states.size}
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.states.clear()
    this.listeners.clear()
  }

  private stateNow(jti: string): MaybePromise<TokenState | undefined> {
    const known = this.states.get(jti)
    if (known) return known
    const generation = this.generation
    const read = this.store.getTokenState(jti)
    if (!(read instanceof Promise)) return this.keep(jti, read, generation)
    return read.then((state) => this.keep(jti, state, generation))
  }

  private keep(jti: string, state: TokenState | undefined, generation: number): TokenState | undefined {
    // A token not in the store is not remembered: it may be one another instance is committing.
    if (state === undefined || generation !== this.generation || this.closed) return state
    if (this.states.size >= MAX_ENTRIES) this.states.delete(this.states.keys().next().value!)
    this.states.set(jti, state)
    return state
  }

  private silentFor(): number {
    return performance.now() - this.heardAt
  }

  private assertFresh(): void {
    const silentFor = this.silentFor()
    if (silentFor > this.staleAfterMs) {
      throw new CapeError(
        'issuer_unavailable',
        `the store has not been heard for ${Math.round(silentFor / 1000)} s, so revocations may be missed: refusing to verify until it is`,
      )
    }
  }

  /** One at a time: lookups that find the mirror silent all wait on the same attempt. */
  private tick(): Promise<void> {
    this.ticking ??= this.listen().finally(() => (this.ticking = undefined))
    return this.ticking
  }

  private async listen(): Promise<void> {
    try {
      const askedAt = performance.now()
      // Once a second regardless: the log also holds this process's own changes, which SQLite's
      // data_version does not count, and a pushed notification may have been lost. A store that
      // cannot tell cheaply (PostgreSQL, which pushes) is heard only through that read.
      const changed = this.store.changedElsewhere === undefined ? undefined : await this.store.changedElsewhere()
      if (changed === true || askedAt - this.caughtUpAt >= CATCH_UP_INTERVAL_MS) await this.catchUp()
      else if (changed === false) this.heardAt = askedAt
    } catch {
      // Not heard: lookups fail closed once this has lasted staleAfterMs.
    }
  }

  private catchUp(): Promise<void> {
    if (this.catchingUp === undefined) {
      this.catchingUp = this.readChanges().finally(() => (this.catchingUp = undefined))
      return this.catchingUp
    }

    this.catchUpAgain ??= this.catchingUp
      .catch(() => undefined)
      .then(() => {
        this.catchUpAgain = undefined
        return this.catchUp()
      })
    return this.catchUpAgain
  }

  private async readChanges(): Promise<void> {
    const askedAt = performance.now()
    for (;;) {
      const changes = await this.store.tokenChangesSince(this.cursor, CHANGES_PER_READ)
      if (this.closed) return
      if (changes.length > 0) {
        this.forget(changes.map((change) => change.jti))
        this.cursor = changes.at(-1)!.seq
        for (const listener of this.listeners) {
          try {
            listener(changes)
          } catch {
            // A subscriber's failure is its own; the mirror goes on.
          }
        }
      }

      if (changes.length < CHANGES_PER_READ) break
    }

    this.heardAt = askedAt
    this.caughtUpAt = askedAt
  }
}

/** Settles when `work` does or after `ms`, whichever comes first; `work`'s failure is not passed on. */
function withinMs(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  return Promise.race([work.catch(() => undefined), waited]).finally(() => clearTimeout(timer))
}
