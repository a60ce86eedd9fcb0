import {randomUUID} from 'node:crypto'
import {hostname} from 'node:os'

import type {InstanceBeat, Store} from '../store/types.js'
import type {TokenStateMirror} from './token-state-mirror.js'

/** How often a serving process reports itself. */
export const BEAT_INTERVAL_MS = 2000
/** `issuer status` lists the processes heard within this; older reports are deleted after a day. */
export const SEEN_RECENTLY_MS = 15_000
const FORGET_AFTER_MS = 86_400_000

/**
 * A serving process telling the store it is alive and how far its revocation state has read, so
 * `cape issuer status` can list every instance on a shared store and how far behind each is.
 */
export class InstanceBeacon {
  private readonly beat: Omit<InstanceBeat, 'seenAt' | 'cursor'>
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: Store,
    private readonly mirror: TokenStateMirror,
    private readonly now: () => number,
  ) {
    this.beat = {id: randomUUID(), host: hostname(), pid: process.pid, startedAt: now()}
  }

  get id(): string {
    return this.beat.id
  }

  async start(): Promise<void> {
    await this.report()
    this.timer = setInterval(() => void this.report().catch(() => undefined), BEAT_INTERVAL_MS).unref()
  }

  /** Gone from the list at once when it stops cleanly; a crashed process ages out of it. */
  async stop(): Promise<void> {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    await this.store.removeInstance(this.beat.id).catch(() => undefined)
  }

  private report(): Promise<void> {
    const seenAt = this.now()
    return this.store.recordInstance({...this.beat, seenAt, cursor: this.mirror.status().cursor}, seenAt - FORGET_AFTER_MS)
  }
}
