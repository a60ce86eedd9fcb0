import type {Store} from '../store/types.js'
import {SEEN_RECENTLY_MS} from './instance-beacon.js'
import {iso} from './records.js'
import type {TokenStateMirror} from './token-state-mirror.js'
import type {IssuerStatus, RevocationSource} from './types.js'

/** The store, its change log, and the processes that reported serving from it recently. */
export async function describeServing(store: Store, issuer: string | null, now: number): Promise<IssuerStatus> {
  const [changes, instances] = await Promise.all([store.latestTokenChange(), store.listInstances(now - SEEN_RECENTLY_MS)])
  return {
    store: {...store.location},
    issuer,
    changes,
    instances: instances.map((beat) => ({
      id: beat.id,
      host: beat.host,
      pid: beat.pid,
      startedAt: iso(beat.startedAt),
      seenAt: iso(beat.seenAt),
      behind: Math.max(0, changes - beat.cursor),
    })),
  }
}

/** The revocations as the feed serves them: read from the store, followed through the mirror. */
export function revocationSource(store: Store, mirror: TokenStateMirror, now: () => number): RevocationSource {
  return {
    snapshot: async () => store.revocationSnapshot(now()),
    changesSince: async (cursor, limit) => store.tokenChangesSince(cursor, limit),
    latest: async () => store.latestTokenChange(),
    subscribe: (listener) => mirror.subscribe(listener),
    isFresh: () => mirror.isFresh(),
  }
}
