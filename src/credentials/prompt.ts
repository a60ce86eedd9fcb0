import {MAX_STDIN_BYTES} from './stdin.js'
import {CapeError} from '../core/errors.js'

export interface PromptPolicy {
  json: boolean
  noInput: boolean
  env?: NodeJS.ProcessEnv
}

/** True where CI systems say so (CI=true, CI=1, ...), not for CI=false or CI=0. */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/** Ask only a person: a TTY on both ends, and never under --json, --no-input or CI. */
export function mayPrompt(policy: PromptPolicy): boolean {
  return (
    Boolean(process.stdin.isTTY && process.stderr.isTTY) && !policy.json && !policy.noInput && !isCI(policy.env)
  )
}

/** Reads a secret from the terminal, echoing `*` for each character, never the character. */
export function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin
  const out = process.stderr
  // Raw mode before the question: whatever is typed once it shows must never be echoed.
  stdin.setRawMode(true)
  out.write(question)
  stdin.setEncoding('utf8')
  stdin.resume()

  return new Promise((resolve, reject) => {
    let value = ''
    let inEscape = false
    const finish = (outcome: () => void) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      out.write('\n')
      outcome()
    }

    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (inEscape) {
          // arrow keys and the like: ESC [ ... final byte
          if (/[A-Za-z~]/.test(char)) inEscape = false
          continue
        }

        switch (char) {
          case '\r':
          case '\n': {
            const secret = value.trim()
            finish(() => (secret ? resolve(secret) : reject(new CapeError('missing_input', 'no token entered'))))
            return
          }

          case '\u0003': {
            finish(() => reject(new CapeError('cancelled', 'cancelled')))
            return
          }

          case '\u0004': {
            finish(() => reject(new CapeError('missing_input', 'no token entered')))
            return
          }

          case '\u007F':
          case '\b': {
            if (value.length > 0) {
              value = value.slice(0, -1)
              out.write('\b \b')
            }

            continue
          }

          case '\u001B': {
            inEscape = true
            continue
          }

          default: {
            if (char < ' ') continue
            if (value.length >= MAX_STDIN_BYTES) {
              finish(() => reject(new CapeError('input_too_large', 'that is longer than any token')))
              return
            }

            value += char
            out.write('*')
          }
        }
      }
    }

    stdin.on('data', onData)
  })
}
