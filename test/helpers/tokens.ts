import {type CliResult, parseJson, runCli, type RunOptions} from './cli.js'

/** Creates a token with the CLI and returns it with its id. */
export async function createToken(
  name: string,
  options: RunOptions,
  extra: readonly string[] = [],
): Promise<{token: string; id: string}> {
  const result = await runCli(['token', 'create', '--name', name, '--json', ...extra], options)
  if (result.code !== 0) throw new Error(`token create failed: ${result.stderr}`)
  const created = parseJson<{token: string; id: string}>(result.stdout)
  return {token: created.token, id: created.id}
}

/** `cape token verify` of a token: its exit code and reason. */
export async function verifyToken(token: string, options: RunOptions): Promise<{code: number | null; reason?: string}> {
  const result: CliResult = await runCli(['token', 'verify', '-', '--json'], {...options, input: token})
  return {code: result.code, reason: parseJson<{reason?: string}>(result.stdout).reason}
}

/** A JWT anywhere in a text. */
export const JWT_PATTERN = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/
