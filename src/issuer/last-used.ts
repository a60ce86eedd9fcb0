import type {LastUse} from '../store/types.js'
import {WriteBatch} from './write-batch.js'

/**
 * Keeps last-used times to the minute, at almost no cost to a verification: a use within a
 * minute of the one already recorded for the token is dropped with one Map lookup, and the rest
 * are written in one transaction per interval. A crash loses at most one interval of last-used
 * times; revocations never pass through here.
 */
export class LastUsedRecorder {
  private readonly batch: WriteBatch<LastUse>
  /** The last time queued per token, to drop uses within the resolution; bounded. */
  private readonly recent = new Map<string, number>()

  constructor(
    write: (uses: ReadonlyMap<string, LastUse>) => Promise<void>,
    private readonly options = {intervalMs: 1000, resolutionMs: 60_000, maxPending: 10_000, maxRecent: 100_000},
  ) {
    this.batch = new WriteBatch(write, options)
  }

  record(jti: string, at: number, ip: string | null = null): void {
    const previous = this.recent.get(jti)
    if (previous !== undefined && at - previous < this.options.resolutionMs) return
    if (this.recent.size >= this.options.maxRecent) this.recent.clear()
    this.recent.set(jti, at)
    this.batch.set(jti, {at, ip})
  }

  /** Writes what is pending; errors are reported to the returned promise, never thrown later. */
  flush(): Promise<void> {
    return this.batch.flush()
  }
}
