import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {runInProcess} from './in-process.js'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin/run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  home: string
  input?: string
  /** Overrides of the environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>
  /** Default: the directory holding `home`, so that no stray ./.env is read. */
  cwd?: string
}

/**
 * The environment of a cape process: this one's, with CAPE_HOME, UTC, and no credential or
 * D-Bus session inherited from whoever runs the tests, then the test's own overrides.
 */
export function cliEnv(home: string, overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, CAPE_HOME: home, TZ: 'UTC', DEBUG: ''}
  for (const name of ['CAPE_TOKEN', 'CAPE_PROFILE', 'DBUS_SESSION_BUS_ADDRESS']) delete env[name]
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }

  return env
}

/**
 * Runs the built CLI's commands on a real CAPE_HOME, no TTY: in this process (see
 * `in-process.ts`), or as a real process when CAPE_TEST_SPAWN=1 asks every test to be one.
 */
export async function runCli(args: readonly string[], options: RunOptions): Promise<CliResult> {
  if (process.env.CAPE_TEST_SPAWN === '1') return runCliProcess(args, options)
  return runInProcess(ROOT, args, {
    env: cliEnv(options.home, options.env),
    cwd: options.cwd ?? nearestDirectory(dirname(options.home)),
    input: options.input ?? '',
  })
}

/** Runs the built CLI as a user would: a real process, a real CAPE_HOME, no TTY. */
export function runCliProcess(args: readonly string[], options: RunOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cliEnv(options.home, options.env),
      cwd: options.cwd ?? nearestDirectory(dirname(options.home)),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({code, stdout, stderr}))
    child.stdin.on('error', () => {
      // the CLI may exit before reading all of a huge input
    })
    child.stdin.end(options.input ?? '')
  })
}

function nearestDirectory(path: string): string {
  try {
    if (statSync(path).isDirectory()) return path
  } catch {
    // not there yet
  }

  return nearestDirectory(dirname(path))
}

/** A fresh temp directory with `home` inside it (not yet created, as on a new machine). */
export function tempHome(): {root: string; home: string; cleanup: () => void} {
  const root = mkdtempSync(join(tmpdir(), 'cape-test-'))
  return {root, home: join(root, 'home'), cleanup: () => rmSync(root, {recursive: true, force: true})}
}

export function parseJson<T = any>(text: string): T {
  return JSON.parse(text) as T
}

/** The token printed by `token create` in human mode. */
export function tokenFrom(stdout: string): string {
  const match = /^Success! Your token: (\S+)$/m.exec(stdout)
  if (!match) throw new Error(`no token in output: ${stdout}`)
  return match[1]!
}
