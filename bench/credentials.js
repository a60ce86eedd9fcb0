// What finding your own token costs: `cape whoami` with the token in the OS keychain against
// the same command given the token with --token. The difference is the keychain round trip,
// which runs in a child process so that a stuck keychain can be killed (src/keychain/os-keychain.ts).
import {execFileSync} from 'node:child_process'
import {join} from 'node:path'

import {keychainTestsEnabled, startPrivateKeychain} from '../test/helpers/keychain.ts'
import {timeCommands} from './startup.js'

const ROOT = new URL('..', import.meta.url).pathname
const CAPE = join(ROOT, 'bin/run.js')

/** Median seconds for whoami from the keychain, from a 0600 file and from --token; undefined without gnome-keyring. */
export async function credentialLookup({work, runs}) {
  if (!keychainTestsEnabled) return undefined
  const keychain = await startPrivateKeychain(join(work, 'keychain'))
  try {
    const env = {...process.env, ...keychain.env, CAPE_HOME: join(work, 'credentials'), NODE_ENV: 'production'}
    delete env.CAPE_TOKEN
    const cape = (args, input) => execFileSync(process.execPath, [CAPE, ...args], {env, input, encoding: 'utf8'})
    const token = JSON.parse(cape(['token', 'create', '--name', 'bench', '--json'])).token
    cape(['login', '--with-token'], token)
    cape(['login', '--with-token', '--insecure-storage', '--profile', 'file'], token)
    const {tool, medians} = timeCommands(
      [
        [process.execPath, CAPE, 'whoami', '--profile', 'default'],
        [process.execPath, CAPE, 'whoami', '--profile', 'file'],
        [process.execPath, CAPE, 'whoami', '--token', token],
      ],
      env,
      runs,
    )
    const [fromKeychain, fromFile, fromFlag] = medians
    return {tool, fromKeychain, fromFile, fromFlag}
  } finally {
    await keychain.stop()
  }
}
