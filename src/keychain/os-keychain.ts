import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {parseDuration} from '../core/duration.js'
import {CapeError} from '../core/errors.js'
import type {KeychainReply, KeychainRequest} from './keychain-protocol.js'

export const KEYCHAIN_SERVICE = 'cape'
/** What gh settled on: long enough for a healthy Secret Service, short enough not to look hung. */
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 3000

const BROKER = fileURLToPath(new URL('keychain-broker.cjs', import.meta.url))
const MAX_REPLY_BYTES = 128 * 1024

export interface KeychainOptions {
  service?: string
  timeoutMs?: number
}

/** The keychain's time limit: CAPE_KEYCHAIN_TIMEOUT (a duration such as "10s"), else 3 s. */
export function keychainTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.CAPE_KEYCHAIN_TIMEOUT
  if (value === undefined || value === '') return DEFAULT_KEYCHAIN_TIMEOUT_MS
  try {
    return parseDuration(value) * 1000
  } catch {
    throw new CapeError('invalid_argument', `CAPE_KEYCHAIN_TIMEOUT: "${value}" is not a duration such as 10s`)
  }
}

/**
 * The OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on Linux):
 * one entry per profile under service "cape". Every call runs in a short-lived child process
 * (keychain-broker.cts) that is killed when it overruns its time limit.
 */
export class OsKeychain {
  readonly kind = 'keychain'
  private readonly service: string
  private readonly timeoutMs: number

  constructor(options: KeychainOptions = {}) {
    this.service = options.service ?? KEYCHAIN_SERVICE
    this.timeoutMs = options.timeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS
  }

  describe(profile: string): string {
    return `the OS keychain (service "${this.service}", account "${profile}")`
  }

  async get(profile: string): Promise<string | null> {
    const value = await this.call({op: 'get', service: this.service, account: profile})
    return typeof value === 'string' ? value : null
  }

  async set(profile: string, token: string): Promise<void> {
    await this.call({op: 'set', service: this.service, account: profile, secret: token})
  }

  async delete(profile: string): Promise<boolean> {
    return (await this.call({op: 'delete', service: this.service, account: profile})) === true
  }

  private call(request: KeychainRequest): Promise<string | boolean | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BROKER], {stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true})
      let stdout = ''
      let stderr = ''
      let settled = false
      const finish = (outcome: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        outcome()
      }

      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        finish(() =>
          reject(
            new CapeError(
              'keychain_unavailable',
              `the OS keychain did not answer within ${this.timeoutMs / 1000} s: it may be locked or its D-Bus session stuck (CAPE_KEYCHAIN_TIMEOUT raises the limit)`,
            ),
          ),
        )
      }, this.timeoutMs)

      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        if (stdout.length > MAX_REPLY_BYTES) child.kill('SIGKILL')
      })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 4096) stderr += chunk
      })
      child.on('error', (error) =>
        finish(() => reject(new CapeError('keychain_unavailable', `cannot run the keychain helper: ${error.message}`))),
      )
      child.on('close', () =>
        finish(() => {
          try {
            resolve(unwrap(parseReply(stdout, stderr)))
          } catch (error) {
            reject(error)
          }
        }),
      )
      child.stdin.on('error', () => {
        // the helper died before reading its request; 'close' reports why
      })
      child.stdin.end(JSON.stringify(request))
    })
  }
}

function parseReply(stdout: string, stderr: string): KeychainReply {
  try {
    return JSON.parse(stdout) as KeychainReply
  } catch {
    const detail = stderr.trim().split('\n').at(-1) || 'it exited without an answer'
    return {ok: false, message: `the keychain helper failed: ${detail}`}
  }
}

function unwrap(reply: KeychainReply): string | boolean | null {
  if (reply.ok) return reply.value
  throw new CapeError('keychain_unavailable', `no OS keychain is reachable: ${keychainHint(reply.message)}`)
}

function keychainHint(message: string): string {
  const text = message.replace(/\s+/g, ' ').trim()
  if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS && /autolaunch|DBUS_SESSION_BUS_ADDRESS/.test(text)) {
    return 'no D-Bus session for the Secret Service (DBUS_SESSION_BUS_ADDRESS is not set)'
  }

  return text
}
