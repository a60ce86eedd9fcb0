/**
 * Best-effort writes gathered in memory and written together: once per interval, or at once
 * when too many are pending. Writes run one after another; a failed one is dropped, since what
 * goes through here (last-used times, refused uses) must never fail a verification.
 */
export class WriteBatch<V> {
  private pending = new Map<string, V>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly write: (batch: ReadonlyMap<string, V>) => Promise<void>,
    private readonly options: {intervalMs: number; maxPending: number},
  ) {}

  get(key: string): V | undefined {
    return this.pending.get(key)
  }

  set(key: string, value: V): void {
    this.pending.set(key, value)
    if (this.pending.size >= this.options.maxPending) {
      void this.flush()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.intervalMs)
      this.timer.unref()
    }
  }

  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }

    if (this.pending.size === 0) return this.flushing
    const batch = this.pending
    this.pending = new Map()
    this.flushing = this.flushing.then(() => this.write(batch)).catch(() => {})
    return this.flushing
  }
}
