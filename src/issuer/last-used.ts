/**
 * Keeps last-used times to the minute, at almost no cost to a verification: a use within a
 * minute of the one already recorded for the token is dropped with one Map lookup, and the rest
 * are written in one transaction per interval. A crash loses at most one interval of last-used
 * times; revocations never pass through here.
 */
export class LastUsedRecorder {
  private pending = new Map<string, number>()
  /** The last time queued per token, to drop uses within the resolution; bounded. */
  private readonly recent = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly write: (uses: ReadonlyMap<string, number>) => Promise<void>,
    private readonly options = {intervalMs: 1000, resolutionMs: 60_000, maxPending: 10_000, maxRecent: 100_000},
  ) {}

  record(jti: string, at: number): void {
    const previous = this.recent.get(jti)
    if (previous !== undefined && at - previous < this.options.resolutionMs) return
    if (this.recent.size >= this.options.maxRecent) this.recent.clear()
    this.recent.set(jti, at)

    this.pending.set(jti, at)
    if (this.pending.size >= this.options.maxPending) {
      void this.flush()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.intervalMs)
      this.timer.unref()
    }
  }

  /** Writes what is pending; errors are reported to the returned promise, never thrown later. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }

    if (this.pending.size === 0) return this.flushing
    const batch = this.pending
    this.pending = new Map()
    this.flushing = this.flushing
      .then(() => this.write(batch))
      .catch(() => {
        // last-used times are best effort: a busy or closed store must not fail a verification
      })
    return this.flushing
  }
}
