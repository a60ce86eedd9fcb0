import {expect} from 'vitest'

import {EventStreamReader, type ServerSentEvent} from '../../src/verifier/event-stream.js'

export interface OpenStream {
  status: number
  /** What the answer's body was, when it was not a stream. */
  body: unknown
  /** The raw text received so far. */
  text: () => string
  events: ServerSentEvent[]
  comments: string[]
  /** Waits (polling, with a bound) until `count` events are in. */
  waitForEvents: (count: number, timeout?: number) => Promise<ServerSentEvent[]>
  close: () => void
}

/** `GET /v1/revocations` as a follower reads it, with what it has received kept for the test. */
export async function openStream(url: string, bearer: string | undefined, headers: Record<string, string> = {}, query = ''): Promise<OpenStream> {
  const controller = new AbortController()
  const response = await fetch(`${url}/v1/revocations${query}`, {
    headers: {accept: 'text/event-stream', ...(bearer === undefined ? {} : {authorization: `Bearer ${bearer}`}), ...headers},
    signal: controller.signal,
  })
  const events: ServerSentEvent[] = []
  const comments: string[] = []
  let text = ''
  const streaming = response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')
  const body = streaming ? undefined : await response.json().catch(() => undefined)
  if (streaming) {
    const reader = new EventStreamReader({onEvent: (event) => events.push(event), onComment: (comment) => comments.push(comment)}, 1 << 26)
    void (async () => {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
        text += chunk
        reader.push(chunk)
      }
    })().catch(() => undefined)
  }

  return {
    status: response.status,
    body,
    text: () => text,
    events,
    comments,
    waitForEvents: async (count, timeout = 2000) => {
      await expect.poll(() => events.length, {timeout, interval: 5}).toBeGreaterThanOrEqual(count)
      return events
    },
    close: () => controller.abort(),
  }
}
