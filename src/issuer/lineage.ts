import type {RateLimit, RateLimitStatus} from '../core/token.js'
import type {Store} from '../store/types.js'

/** What a token's lineage (the tokens it was minted through, the ones it replaced) means for its use. */

/** A token a rate-limited token was minted through, and that token's own rate limit. */
interface RateLimitedAncestor {
  jti: string
  rateLimit: RateLimit
}

/** Lineages kept in memory; past this many they are read again. */
const ANCESTORS_KEPT = 10_000

/**
 * A token minted through a rate-limited one spends its ancestors' budgets too: otherwise minting
 * children would multiply the limit. Each ancestor's own window counts the use.
 */
export class SharedRateLimits {
  private readonly ancestors = new Map<string, readonly RateLimitedAncestor[]>()

  constructor(private readonly store: Store) {}

  /** The status of the first ancestor that refuses this use, if any; a check reads without counting. */
  async countAncestorUses(jti: string, now: number, purpose: 'use' | 'check'): Promise<RateLimitStatus | undefined> {
    for (const ancestor of await this.rateLimitedAncestors(jti)) {
      const {maxRequests, timeWindow} = ancestor.rateLimit
      const windowStart = Math.floor(now / 1000 / timeWindow) * timeWindow
      const count =
        purpose === 'use' ? await this.store.countUse(ancestor.jti, windowStart) : (await this.store.peekUse(ancestor.jti, windowStart)) + 1
      if (count > maxRequests) return {limit: maxRequests, remaining: 0, resetAt: windowStart + timeWindow}
    }

    return undefined
  }

  /** A token's lineage never changes, nor do restrictions: read once per token, then kept. */
  private async rateLimitedAncestors(jti: string): Promise<readonly RateLimitedAncestor[]> {
    const known = this.ancestors.get(jti)
    if (known) return known
    const found: RateLimitedAncestor[] = []
    const seen = new Set([jti])
    let parent = (await this.store.getToken(jti))?.parent ?? null
    while (parent !== null && !seen.has(parent)) {
      seen.add(parent)
      const token = await this.store.getToken(parent)
      const rateLimit = token?.restrictions?.rateLimit
      if (token && rateLimit) found.push({jti: token.jti, rateLimit})
      parent = token?.parent ?? null
    }

    if (this.ancestors.size >= ANCESTORS_KEPT) this.ancestors.clear()
    this.ancestors.set(jti, found)
    return found
  }
}

/**
 * GitLab's reuse detection: a rotated-away token used again means it leaked, so its successors
 * go, and whatever was minted through any of them.
 */
/** The tokens it revoked. */
export async function detectReuse(store: Store, jti: string, at: number): Promise<string[]> {
  const revoked = await store.revokeSuccessors(jti, at)
  if (revoked.length === 0) return revoked
  await store.appendAudit([
    {jti, at, event: 'reuse_detected', detail: `used after its rotation: revoked ${revoked.join(', ')}`, count: 1},
    ...revoked.map((successor) => ({jti: successor, at, event: 'revoked' as const, detail: `reuse of ${jti} after its rotation`, count: 1})),
  ])
  return revoked
}
