/**
 * Collects last-used times in memory and writes them in one transaction per interval, so that
 * tracking use costs a Map write per verification. A crash loses at most one interval of
 * last-used times; revocations never pass through here.
 */
export class LastUsedRecorder {
  private pending = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly write: (uses: ReadonlyMap<string, number>) => Promise<void>,
    private readonly intervalMs = 1000,
    private readonly maxPending = 10_000,
  ) {}

  record(jti: string, at: number): void {
    this.pending.set(jti, at)
    if (this.pending.size >= this.maxPending) {
      void this.flush()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs)
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
    this.flushing = this.flushing.then(() => this.write(batch)).catch(() => {
      // last-used times are best effort: a busy or closed store must not fail a verification
    })
    return this.flushing
  }
}
