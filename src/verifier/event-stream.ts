/** One server-sent event, as the WHATWG event-stream format defines it (fields cape uses only). */
export interface ServerSentEvent {
  event: string
  data: string
  id: string | undefined
}

/**
 * Reads a `text/event-stream` piece by piece: `onEvent` for each event, `onComment` for each
 * comment line (heartbeats). A line or an event longer than `maxLineLength` (a snapshot is one line) throws:
 * no server of ours sends one, and it would otherwise be held in memory without end.
 */
export class EventStreamReader {
  private pending: string[] = []
  private pendingLength = 0
  private event = ''
  private data: string[] = []
  private dataLength = 0
  private id: string | undefined

  constructor(
    private readonly handlers: {onEvent: (event: ServerSentEvent) => void; onComment: (text: string) => void},
    private readonly maxLineLength: number,
  ) {}

  push(chunk: string): void {
    // A line in pieces is joined once, when its end arrives: a snapshot is one line of many chunks.
    let start = 0
    for (;;) {
      const end = chunk.indexOf('\n', start)
      if (end === -1) break
      this.pending.push(chunk.slice(start, end))
      const line = this.pending.length === 1 ? this.pending[0]! : this.pending.join('')
      this.pending = []
      this.pendingLength = 0
      start = end + 1
      this.line(line.endsWith('\r') ? line.slice(0, -1) : line)
    }

    if (start < chunk.length) {
      this.pending.push(chunk.slice(start))
      this.pendingLength += chunk.length - start
      if (this.pendingLength > this.maxLineLength) throw new Error(`an event-stream line longer than ${this.maxLineLength} characters`)
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.handlers.onEvent({event: this.event || 'message', data: this.data.join('\n'), id: this.id})
      this.event = ''
      this.data = []
      this.dataLength = 0
      this.id = undefined
      return
    }

    if (line.startsWith(':')) {
      this.handlers.onComment(line.slice(1).trim())
      return
    }

    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(line[colon + 1] === ' ' ? colon + 2 : colon + 1)
    if (field === 'event') this.event = value
    else if (field === 'data') {
      this.dataLength += value.length + 1
      if (this.dataLength > this.maxLineLength) throw new Error(`an event larger than ${this.maxLineLength} characters`)
      this.data.push(value)
    }
    else if (field === 'id') this.id = value
  }
}
