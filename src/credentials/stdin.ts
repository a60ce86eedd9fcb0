import {CapeError} from '../core/errors.js'

/** More than any token needs, little enough to hold in memory. */
export const MAX_STDIN_BYTES = 64 * 1024

/** Reads a secret passed on stdin (`-`), so that it stays out of shell history and `ps`. */
export async function readSecretFromStdin(what = 'token'): Promise<string> {
  const stdin = process.stdin
  if (stdin.isTTY) process.stderr.write(`Paste the ${what}, then press Ctrl-D:\n`)

  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_STDIN_BYTES) {
      stdin.destroy()
      throw new CapeError('input_too_large', `the ${what} on stdin is larger than ${MAX_STDIN_BYTES / 1024} KiB`)
    }

    chunks.push(chunk)
  }

  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text.length === 0) throw new CapeError('missing_input', `no ${what} on stdin`)
  return text
}
