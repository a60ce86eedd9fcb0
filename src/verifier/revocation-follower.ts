import {performance} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'

import {CapeError} from '../core/errors.js'
import {EventStreamReader, type ServerSentEvent} from './event-stream.js'

/** How long a follower may go without hearing the feed (an event or a heartbeat) before it refuses every token. */
export const DEFAULT_FEED_STALE_AFTER_MS = 5000
/** A snapshot of 200,000 revoked tokens is about 20 MB; nothing of ours is larger. */
const MAX_EVENT_CHARACTERS = 64 * 1024 * 1024
const FIRST_RETRY_MS = 100
const LAST_RETRY_MS = 2000
const PRUNE_EVERY_MS = 60_000

export interface FollowerOptions {
  /** `GET /v1/revocations` of the issuer. */
  url: string
  /** A token with scope `introspect`, bound to no account. */
  bearer: string
  staleAfterMs?: number | undefined
}

interface Revocation {
  revokedAt: number
  expiresAt: number | null
}

/**
 * The issuer's revocations, held in memory and kept current by its server-sent events: a
 * snapshot, then each change. A dropped stream is resumed from the last event's id, so nothing
 * is missed; a stream silent for longer than `staleAfterMs` is dropped and, until one is heard
 * again, every lookup fails closed with `issuer_unavailable`.
 */
export class RevocationFollower {
  /** Follows the feed; resolves once the first snapshot is in, so a wrong URL or token fails at start-up. */
  static async start(options: FollowerOptions): Promise<RevocationFollower> {
    const follower = new RevocationFollower(options)
    try {
      await follower.firstSnapshot
    } catch (error) {
      follower.close()
      throw error
    }

    return follower
  }

  private revoked = new Map<string, Revocation>()
  private readonly staleAfterMs: number
  private readonly watchdog: NodeJS.Timeout
  private readonly stopped = new AbortController()
  private connection: AbortController | undefined
  private lastEventId: string | undefined
  private heardAt = Number.NEGATIVE_INFINITY
  private connectedAt = 0
  private prunedAt = 0
  private lastProblem = 'it has not been heard yet'
  private readonly firstSnapshot: Promise<void>
  private snapshotArrived: () => void = () => undefined

  private constructor(private readonly options: FollowerOptions) {
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_FEED_STALE_AFTER_MS
    if (!Number.isSafeInteger(this.staleAfterMs) || this.staleAfterMs < 1) {
      throw new CapeError('invalid_argument', 'feedStaleAfterMs must be a whole number of milliseconds, at least 1')
    }

    let failStart: (error: CapeError) => void = () => undefined
    this.firstSnapshot = new Promise<void>((resolve, reject) => {
      this.snapshotArrived = resolve
      failStart = reject
    })
    // A silent connection is cut, so that a reconnection can find out why.
    this.watchdog = setInterval(() => this.watch(), Math.max(10, Math.floor(this.staleAfterMs / 4))).unref()
    void this.run(failStart)
  }

  /** When the token was (or will be) revoked; null when it is not. Throws when the feed is not heard. */
  revokedAt(jti: string): number | null {
    const silentFor = performance.now() - this.heardAt
    if (silentFor > this.staleAfterMs) {
      throw new CapeError(
        'issuer_unavailable',
        `the issuer's revocation feed has not been heard for more than ${this.staleAfterMs / 1000} s (${this.lastProblem}): refusing every token until it is`,
      )
    }

    return this.revoked.get(jti)?.revokedAt ?? null
  }

  close(): void {
    clearInterval(this.watchdog)
    this.stopped.abort()
  }

  private watch(): void {
    if (performance.now() - Math.max(this.heardAt, this.connectedAt) > this.staleAfterMs) {
      this.lastProblem = 'the stream went silent'
      this.connection?.abort()
    }

    const now = Date.now()
    if (now - this.prunedAt > PRUNE_EVERY_MS) {
      this.prunedAt = now
      for (const [jti, entry] of this.revoked) if (entry.expiresAt !== null && entry.expiresAt <= now) this.revoked.delete(jti)
    }
  }

  private async run(failStart: (error: CapeError) => void): Promise<void> {
    let retryMs = FIRST_RETRY_MS
    while (!this.stopped.signal.aborted) {
      try {
        if (await this.follow()) retryMs = FIRST_RETRY_MS
      } catch (error) {
        this.lastProblem = error instanceof CapeError ? error.message : describe(error)
        // Before the first snapshot, like the JWKS: a wrong URL or token shows at start-up.
        if (this.lastEventId === undefined) {
          failStart(error instanceof CapeError ? error : new CapeError('issuer_unavailable', `no revocation feed at ${this.options.url}: ${this.lastProblem}`))
        }
      }

      await sleep(retryMs, undefined, {signal: this.stopped.signal}).catch(() => undefined)
      retryMs = Math.min(retryMs * 2, LAST_RETRY_MS)
    }
  }

  /** One connection, until it ends; whether anything was heard on it. */
  private async follow(): Promise<boolean> {
    const connection = new AbortController()
    this.connection = connection
    this.connectedAt = performance.now()
    const signal = AbortSignal.any([connection.signal, this.stopped.signal])
    const headers: Record<string, string> = {accept: 'text/event-stream', authorization: `Bearer ${this.options.bearer}`}
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId
    const response = await fetch(this.options.url, {headers, signal})
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel()
      throw new CapeError('access_denied', `the issuer refused the feed token (${response.status}): give createVerifier a token with scope "introspect", bound to no account`)
    }

    if (response.status !== 200 || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || !response.body) {
      await response.body?.cancel()
      throw new CapeError('issuer_unavailable', `the issuer's revocation feed answered ${response.status}`)
    }

    let heard = false
    const reader = new EventStreamReader(
      {
        onEvent: (event) => {
          this.apply(event)
          heard = true
        },
        onComment: () => {
          if (this.lastEventId !== undefined) this.heardAt = performance.now()
        },
      },
      MAX_EVENT_CHARACTERS,
    )
    try {
      for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) reader.push(chunk)
      this.lastProblem = 'the stream ended'
    } finally {
      connection.abort()
    }

    return heard
  }

  private apply(event: ServerSentEvent): void {
    if (event.id === undefined || !isCursor(event.id)) throw new Error(`an event without a cursor`)
    const data = JSON.parse(event.data) as unknown
    if (event.event === 'snapshot') {
      const revoked = (data as {revoked?: unknown}).revoked
      if (!Array.isArray(revoked)) throw new Error('a snapshot without "revoked"')
      const fresh = new Map<string, Revocation>()
      const now = Date.now()
      for (const entry of revoked) {
        const parsed = revocation(entry)
        if (parsed.revokedAt !== null && (parsed.expiresAt === null || parsed.expiresAt > now)) {
          fresh.set(parsed.jti, {revokedAt: parsed.revokedAt, expiresAt: parsed.expiresAt})
        }
      }

      this.revoked = fresh
      this.snapshotArrived()
    } else if (event.event === 'revoked') {
      const {jti, revokedAt, expiresAt} = revocation(data)
      if (revokedAt === null) this.revoked.delete(jti)
      else this.revoked.set(jti, {revokedAt, expiresAt})
    } else {
      return
    }

    this.lastEventId = event.id
    this.heardAt = performance.now()
  }
}

/** `{jti, revokedAt, expiresAt}` with ISO times (or null), as epoch milliseconds. */
function revocation(entry: unknown): {jti: string; revokedAt: number | null; expiresAt: number | null} {
  const {jti, revokedAt, expiresAt} = (entry ?? {}) as Record<string, unknown>
  if (typeof jti !== 'string') throw new Error('a revocation without a jti')
  return {jti, revokedAt: time(revokedAt), expiresAt: time(expiresAt)}
}

function time(value: unknown): number | null {
  if (value === null) return null
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (Number.isNaN(ms)) throw new Error('a revocation with a time that is not one')
  return ms
}

const isCursor = (text: string) => text.length > 0 && text.length <= 15 && [...text].every((character) => character >= '0' && character <= '9')

function describe(error: unknown): string {
  const {name, message, cause} = error as {name?: string; message?: string; cause?: {code?: string}}
  if (name === 'AbortError') return 'the stream went silent'
  return cause?.code ?? message ?? String(error)
}
