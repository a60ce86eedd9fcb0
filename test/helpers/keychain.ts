import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {mkdirSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'

const TOOLS = ['dbus-daemon', 'dbus-send', 'gnome-keyring-daemon', 'secret-tool']

function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/**
 * Whether the real-keychain tests run: where D-Bus and gnome-keyring are installed, and always
 * in CI (which installs them), so that a missing package fails there instead of skipping.
 */
export const keychainTestsEnabled = Boolean(process.env.CI) || TOOLS.every(installed)

export interface PrivateKeychain {
  /** The environment a process needs to reach it: its own D-Bus session and HOME. */
  env: {DBUS_SESSION_BUS_ADDRESS: string; HOME: string}
  /** What the Secret Service holds for this account (of service "cape" unless told), read with secret-tool. */
  lookup(account: string, service?: string): string | null
  /** Removes an entry behind cape's back, with secret-tool. */
  clear(account: string): void
  stop(): Promise<void>
}

/**
 * A private D-Bus session bus with gnome-keyring's Secret Service on it, its login keyring
 * created and unlocked with a throwaway password, all under `dir` (its HOME).
 */
export async function startPrivateKeychain(dir: string): Promise<PrivateKeychain> {
  const missing = TOOLS.filter((tool) => !installed(tool))
  if (missing.length > 0) throw new Error(`keychain tests need ${missing.join(', ')} (apt-get install dbus gnome-keyring libsecret-tools)`)

  mkdirSync(dir, {recursive: true, mode: 0o700})
  const children: ChildProcess[] = []
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
    }
  }

  try {
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1', `--address=unix:path=${join(dir, 'bus')}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    children.push(bus)
    const address = (await firstLine(bus, () => true, 'dbus-daemon')).trim()
    const env = {DBUS_SESSION_BUS_ADDRESS: address, HOME: dir}
    // No XDG_RUNTIME_DIR: gnome-keyring would put its control socket beside a real session's.
    const childEnv: NodeJS.ProcessEnv = {...process.env, ...env, XDG_DATA_HOME: join(dir, '.local/share')}
    delete childEnv.XDG_RUNTIME_DIR

    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      env: childEnv,
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    children.push(keyring)
    // An empty password would leave the login keyring uncreated; any other will do.
    keyring.stdin!.end('cape-test-password')
    await firstLine(keyring, (line) => line.startsWith('GNOME_KEYRING_CONTROL='), 'gnome-keyring-daemon')
    await waitFor(() => hasSecretService(childEnv), 'the Secret Service to appear on the bus')

    return {
      env,
      lookup(account, service = 'cape') {
        try {
          // `--`: a kid is base64url, and one in 64 starts with "-", which secret-tool would take for an option.
          return execFileSync('secret-tool', ['lookup', '--', 'service', service, 'username', account], {env: childEnv, encoding: 'utf8'})
        } catch {
          return null // secret-tool exits 1 when nothing matches
        }
      },
      clear(account) {
        try {
          execFileSync('secret-tool', ['clear', '--', 'service', 'cape', 'username', account], {env: childEnv, stdio: 'ignore'})
        } catch {
          // exits 1 when there was nothing to clear
        }
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

function hasSecretService(env: NodeJS.ProcessEnv): boolean {
  // NameHasOwner, unlike a call to the service, never triggers D-Bus activation of a second daemon.
  const reply = execFileSync(
    'dbus-send',
    ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'],
    {env, encoding: 'utf8'},
  )
  return /boolean true/.test(reply)
}

function firstLine(child: ChildProcess, accept: (line: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 10 s`)), 10_000)
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      for (const line of buffer.split('\n').slice(0, -1)) {
        if (accept(line)) {
          clearTimeout(timer)
          resolve(line)
        }
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited (${code}) before it was ready`))
    })
  })
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A D-Bus address that accepts connections and never answers: a Secret Service that hangs.
 * The socket lives at `path`; close() ends it.
 */
export async function startSilentBus(path: string): Promise<{address: string; close: () => Promise<void>}> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return {
    address: `unix:path=${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
