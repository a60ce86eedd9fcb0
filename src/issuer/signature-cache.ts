/**
 * Remembers tokens whose signature and fixed claims already checked out, by the exact token
 * string. Bounded: when full, the oldest entry goes (first in, first out keeps a hit free of
 * bookkeeping). Only what never changes for a given string is cached; time and revocation are
 * checked by the caller on every use.
 */
export class SignatureCache<T> {
  private readonly entries = new Map<string, T>()

  constructor(readonly capacity = 10_000) {}

  get(token: string): T | undefined {
    return this.entries.get(token)
  }

  set(token: string, value: T): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }

    this.entries.set(token, value)
  }

  clear(): void {
    this.entries.clear()
  }

  get size(): number {
    return this.entries.size
  }
}
