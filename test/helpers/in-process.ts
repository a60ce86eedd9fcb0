import {Console} from 'node:console'
import {Readable, Writable} from 'node:stream'

import type {Config, Errors, run} from '@oclif/core'

/** What a finished command left behind. */
export interface Outcome {
  code: number
  stdout: string
  stderr: string
}

export interface Surroundings {
  env: NodeJS.ProcessEnv
  cwd: string
  input: string
}

interface Oclif {
  config: Config
  run: typeof run
  ExitError: typeof Errors.ExitError
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const

let oclif: Promise<Oclif> | undefined
let queue: Promise<unknown> = Promise.resolve()

/**
 * Runs the built commands in this process, through oclif's own `run` and a config loaded once,
 * in the surroundings a spawned process would have: its environment, working directory, stdin
 * (not a terminal), stdout and stderr (pipes), and exit code. One at a time, since those are
 * the process's own.
 */
export function runInProcess(root: string, args: readonly string[], surroundings: Surroundings): Promise<Outcome> {
  const turn = queue.then(() => runAlone(root, args, surroundings))
  queue = turn.catch(() => undefined)
  return turn
}

async function runAlone(root: string, args: readonly string[], surroundings: Surroundings): Promise<Outcome> {
  oclif ??= import('@oclif/core').then(async ({Config, run, Errors}) => ({config: await Config.load(root), run, ExitError: Errors.ExitError}))
  const {config, run, ExitError} = await oclif

  const stdout = new Collector()
  const stderr = new Collector()
  const replacements = {stdin: Readable.from(surroundings.input ? [Buffer.from(surroundings.input)] : []), stdout, stderr}
  const saved = {
    env: process.env,
    cwd: process.cwd(),
    console: globalThis.console,
    streams: STREAMS.map((name) => [name, Object.getOwnPropertyDescriptor(process, name)!] as const),
  }
  for (const name of STREAMS) {
    Object.defineProperty(process, name, {configurable: true, enumerable: true, get: () => replacements[name]})
  }

  process.env = surroundings.env
  process.chdir(surroundings.cwd)
  globalThis.console = new Console({stdout, stderr})
  process.exitCode = undefined
  let code: number
  try {
    await run([...args], config)
    code = Number(process.exitCode ?? 0)
  } catch (error) {
    // What oclif's `handle` does for a process: the message on stderr, the error's exit code.
    const exit = (error as {oclif?: {exit?: number}}).oclif?.exit ?? 1
    if (!(error instanceof ExitError)) stderr.write(` ›   Error: ${error instanceof Error ? error.message : String(error)}\n`)
    code = exit
  } finally {
    for (const [name, descriptor] of saved.streams) Object.defineProperty(process, name, descriptor)
    globalThis.console = saved.console
    process.chdir(saved.cwd)
    process.env = saved.env
    process.exitCode = undefined
  }

  return {code, stdout: stdout.text, stderr: stderr.text}
}

/** A pipe's end: what is written, as text. */
class Collector extends Writable {
  text = ''

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }
}
