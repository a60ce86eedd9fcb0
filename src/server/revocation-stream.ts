import type {ServerResponse} from 'node:http'

import type {FastifyReply} from 'fastify'

import {HttpError} from '../core/http-error.js'
import type {Caller} from '../issuer/acting-issuer.js'
import type {RevocationChange, RevocationSource, RevocationState} from '../issuer/types.js'

/** How `GET /v1/revocations` streams, and how much of the server its followers may take. */
export interface FeedLimits {
  /** A `: ping` comment this often while the issuer hears its store; a follower's bound must be longer. */
  heartbeatMs: number
  /** Streams open at once; each is also one of the server's connections. */
  maxStreams: number
  /** Unsent output a stream may hold beyond its first answer (the snapshot) before it is dropped. */
  maxBufferedBytes: number
  /** A stream whose reader has taken none of its waiting output for this long is dropped. */
  stallTimeoutMs: number
}

export const DEFAULT_HEARTBEAT_MS = 2000
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
const DEFAULT_STALL_TIMEOUT_MS = 10_000
const CHANGES_PER_PAGE = 500
const PIECE_CHARACTERS = 64 * 1024
/** Digits only: any cursor this server hands out fits, and nothing longer is parsed. */
const MAX_CURSOR_DIGITS = 15

/** The defaults, with at most half the server's connections given to streams so they never starve requests. */
export function feedLimits(maxConnections: number, given: Partial<FeedLimits> = {}): FeedLimits {
  return {
    heartbeatMs: given.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    maxStreams: given.maxStreams ?? Math.max(1, Math.floor(maxConnections / 2)),
    maxBufferedBytes: given.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    stallTimeoutMs: given.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
  }
}

/**
 * The cursor a follower resumes from (`Last-Event-ID`, else `?since=`), or undefined for a
 * snapshot. Only what this server hands out is accepted: a whole number of at most 15 digits.
 */
export function resumeCursor(lastEventId: string | undefined, since: string | undefined): number | undefined {
  const [text, where] = lastEventId === undefined ? [since, '"since"'] : [lastEventId, 'Last-Event-ID']
  if (text === undefined) return undefined
  if (text.length === 0 || text.length > MAX_CURSOR_DIGITS || ![...text].every((character) => character >= '0' && character <= '9')) {
    throw new HttpError(400, 'invalid_request', `${where} must be a cursor this server sent: a whole number of at most ${MAX_CURSOR_DIGITS} digits`)
  }

  return Number(text)
}

/** Times as the rest of the API gives them: ISO 8601, null when there is none. */
export function snapshotBody(state: RevocationState): {cursor: number; revoked: Array<{jti: string; revokedAt: string; expiresAt: string | null}>} {
  return {cursor: state.cursor, revoked: state.revoked.map((entry) => ({jti: entry.jti, revokedAt: iso(entry.revokedAt), expiresAt: isoOrNull(entry.expiresAt)}))}
}

/** Every open stream of one server, fed by one subscription each to the issuer's shared source. */
export class RevocationStreams {
  private readonly streams = new Set<ServerResponse>()

  constructor(
    private readonly source: RevocationSource,
    private readonly limits: FeedLimits,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.streams.size
  }

  /**
   * Answers with a stream: the snapshot, or the changes after `since` when it is one this
   * server has reached, then each change as it is learnt. Whatever can fail (the limit, the
   * store) fails before the answer starts, so it is an ordinary error answer.
   */
  async open(reply: FastifyReply, caller: Caller, since: number | undefined): Promise<void> {
    if (this.streams.size >= this.limits.maxStreams) {
      throw new HttpError(503, 'too_many_streams', `this server follows at most ${this.limits.maxStreams} revocation streams at once; try again later`, {
        'retry-after': '5',
      })
    }

    const pending: RevocationChange[] = []
    let deliver = (changes: readonly RevocationChange[]) => void pending.push(...changes)
    const unsubscribe = this.source.subscribe((changes) => deliver(changes))
    let first: {snapshot: RevocationState} | {cursor: number; changes: RevocationChange[]}
    try {
      const latest = since === undefined ? undefined : await this.source.latest()
      first =
        since === undefined || since > latest!
          ? {snapshot: await this.source.snapshot()}
          : {cursor: since, changes: await this.source.changesSince(since, CHANGES_PER_PAGE)}
    } catch (error) {
      unsubscribe()
      throw error
    }

    const response = reply.hijack().raw
    const stream = new OutgoingEvents(response, this.limits)
    this.streams.add(response)
    // A ping says: every change up to now has been sent. So none until the catch-up is through.
    let live = false
    const ping = () => live && this.source.isFresh() && stream.write(': ping\n\n')
    const heartbeat = setInterval(() => {
      if (caller.expiresAt !== null && caller.expiresAt <= this.now()) response.end()
      else if (stream.stalledFor() > this.limits.stallTimeoutMs) response.destroy()
      else ping()
    }, this.limits.heartbeatMs)
    response.once('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      this.streams.delete(response)
    })

    // The whole connection is this stream: once it ends, so does the connection.
    response.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'close', 'x-accel-buffering': 'no'})
    stream.write('retry: 1000\n\n')
    let cursor: number
    if ('snapshot' in first) {
      cursor = first.snapshot.cursor
      stream.writeFirst(`id: ${cursor}\nevent: snapshot\ndata: ${JSON.stringify(snapshotBody(first.snapshot))}\n\n`)
    } else {
      cursor = first.cursor
      let page = first.changes
      try {
        for (;;) {
          for (const change of page) stream.write(changeEvent(change))
          if (page.length > 0) cursor = page.at(-1)!.seq
          if (page.length < CHANGES_PER_PAGE || response.destroyed) break
          await stream.drained()
          page = await this.source.changesSince(cursor, CHANGES_PER_PAGE)
        }
      } catch {
        response.destroy()
        return
      }
    }

    deliver = (changes) => {
      for (const change of changes) {
        if (change.seq <= cursor) continue
        cursor = change.seq
        stream.write(changeEvent(change))
        // Its own bearer revoked: it follows no further.
        if (change.jti === caller.id && change.revokedAt !== null && change.revokedAt <= this.now()) response.end()
      }
    }
    deliver(pending.splice(0))
    live = true
    ping()
  }

  /** Ends every stream, so that a server closing is not held open by its followers. */
  closeAll(): void {
    for (const response of this.streams) response.end()
  }
}

/** One stream's output: written as it comes, dropped when its reader falls too far behind. */
class OutgoingEvents {
  private allowance: number
  private written = 0
  private flushedAtLastLook = 0
  private progressAt = performance.now()

  constructor(
    private readonly response: ServerResponse,
    limits: FeedLimits,
  ) {
    this.allowance = limits.maxBufferedBytes
  }

  /**
   * The first answer may be large (a snapshot of every revoked token); it is allowed on top of
   * the limit, and written in pieces so that a reader's progress through it can be seen.
   */
  writeFirst(text: string): void {
    this.allowance += Buffer.byteLength(text)
    for (let start = 0; start < text.length; start += PIECE_CHARACTERS) this.write(text.slice(start, start + PIECE_CHARACTERS))
  }

  write(text: string): void {
    const {response} = this
    if (response.destroyed || response.writableEnded) return
    this.written += Buffer.byteLength(text)
    response.write(text)
    if (response.writableLength > this.allowance) response.destroy()
  }

  /** How long output has been waiting without any of it reaching the reader. */
  stalledFor(): number {
    const flushed = this.written - this.response.writableLength
    if (!this.response.writableNeedDrain || flushed > this.flushedAtLastLook) {
      this.flushedAtLastLook = flushed
      this.progressAt = performance.now()
      return 0
    }

    return performance.now() - this.progressAt
  }

  /** Resolves once written out, or once the stream is gone. */
  drained(): Promise<void> {
    const {response} = this
    if (!response.writableNeedDrain || response.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        response.off('drain', done)
        response.off('close', done)
        resolve()
      }

      response.once('drain', done)
      response.once('close', done)
    })
  }
}

function changeEvent(change: RevocationChange): string {
  const data = {jti: change.jti, revokedAt: isoOrNull(change.revokedAt), expiresAt: isoOrNull(change.expiresAt)}
  return `id: ${change.seq}\nevent: revoked\ndata: ${JSON.stringify(data)}\n\n`
}

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))
