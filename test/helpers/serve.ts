import {spawn} from 'node:child_process'
import {createServer} from 'node:net'

import {BIN, cliEnv} from './cli.js'

export interface ServeProcess {
  url: string
  /** What it has printed so far. */
  output: () => {stdout: string; stderr: string}
  /** SIGTERM, then its exit code. */
  stop: () => Promise<number | null>
}

/**
 * `cape issuer serve` as a real process on an ephemeral 127.0.0.1 port. Resolves once it
 * listens; rejects with its stderr if it exits first.
 */
export function startServe(home: string, args: readonly string[] = [], env: Record<string, string | undefined> = {}): Promise<ServeProcess> {
  const server = spawn(process.execPath, [BIN, 'issuer', 'serve', '--port', '0', ...args], {
    env: cliEnv(home, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => server.once('exit', resolve))
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  return new Promise((resolve, reject) => {
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
      if (match) {
        resolve({
          url: match[1]!,
          output: () => ({stdout, stderr}),
          stop: () => {
            server.kill('SIGTERM')
            return exited
          },
        })
      }
    })
    void exited.then((code) => reject(Object.assign(new Error(`server exited (${code}): ${stderr}`), {code, stderr})))
  })
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}
