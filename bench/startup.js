// Cold start of `cape token list` against a bare oclif 4 command, as whole processes.
import {execFileSync, spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {median} from './lib/measure.js'

const ROOT = new URL('..', import.meta.url).pathname
const CAPE = join(ROOT, 'bin/run.js')
const BARE = join(ROOT, 'bench/fixtures/bare-oclif/bin/run.js')

function hasHyperfine() {
  return spawnSync('hyperfine', ['--version']).status === 0
}

/** Median seconds per run of each command, by hyperfine when installed, else by repeated spawns. */
export function timeCommands(commands, env, runs) {
  if (hasHyperfine()) {
    const report = join(env.CAPE_HOME, '..', 'hyperfine.json')
    execFileSync(
      'hyperfine',
      ['--warmup', '3', '--runs', String(runs), '--shell=none', '--export-json', report, ...commands.map((c) => c.join(' '))],
      {env, stdio: 'ignore'},
    )
    return {tool: 'hyperfine', medians: JSON.parse(readFileSync(report, 'utf8')).results.map((r) => r.median)}
  }

  const samples = commands.map(() => [])
  for (let run = -3; run < runs; run++) {
    for (const [index, [file, ...args]] of commands.entries()) {
      const started = performance.now()
      const {status} = spawnSync(file, args, {env, stdio: 'ignore'})
      if (status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${status}`)
      if (run >= 0) samples[index].push((performance.now() - started) / 1000)
    }
  }

  return {tool: 'repeated spawns', medians: samples.map(median)}
}

/** Goal ≤ 1.5: cape token list (10 tokens) ÷ a bare oclif command. */
export function coldStart({home, runs = 30}) {
  const env = {...process.env, CAPE_HOME: home, NODE_ENV: 'production'}
  const {tool, medians} = timeCommands(
    [
      [process.execPath, CAPE, 'token', 'list'],
      [process.execPath, BARE, 'hello'],
    ],
    env,
    runs,
  )
  const [cape, bare] = medians
  return {tool, cape, bare, ratio: cape / bare}
}
