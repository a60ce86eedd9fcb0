import type {StoredAuditEvent} from '../store/types.js'
import {WriteBatch} from './write-batch.js'

/**
 * Collects refused uses for the audit trail and writes them once a second in one transaction.
 * The same refusal of the same token within a second is one entry with a count, so a client
 * hammering with a rate-limited or revoked token costs one row a second, not one per request.
 */
export class AuditRecorder {
  private readonly batch: WriteBatch<StoredAuditEvent>

  constructor(write: (events: readonly StoredAuditEvent[]) => Promise<void>) {
    this.batch = new WriteBatch((pending) => write([...pending.values()]), {intervalMs: 1000, maxPending: 1000})
  }

  record(event: Omit<StoredAuditEvent, 'count'>): void {
    const key = `${event.jti}\u0000${event.event}\u0000${event.detail ?? ''}`
    const existing = this.batch.get(key)
    if (existing) existing.count++
    else this.batch.set(key, {...event, count: 1})
  }

  flush(): Promise<void> {
    return this.batch.flush()
  }
}
