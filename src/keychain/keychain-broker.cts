/**
 * Runs one OS keychain operation in a child process of its own. The native library connects to
 * the Secret Service synchronously, so an unresponsive D-Bus would freeze the main thread, and
 * neither an AbortSignal nor a worker thread can unblock it (a stuck worker even blocks
 * `process.exit`). A child process can always be killed, so the CLI keeps its time limit.
 *
 * Protocol: one JSON request on stdin, one JSON reply on stdout. The secret never touches argv.
 * CommonJS on purpose: it starts about 20 ms sooner than the same script as an ES module.
 */
import keyring = require('@napi-rs/keyring')

import type {KeychainReply, KeychainRequest} from './keychain-protocol.js'

async function handle(request: KeychainRequest): Promise<KeychainReply> {
  // Pinned to the Secret Service on Linux: the library would otherwise fall back to the kernel
  // keyring, which forgets everything at logout, so "logged in" would silently not last.
  const entry = new keyring.AsyncEntry(request.service, request.account, {linux: {store: 'secret-service'}})
  switch (request.op) {
    case 'get': {
      return {ok: true, value: await entry.getPassword()}
    }

    case 'set': {
      await entry.setPassword(request.secret)
      return {ok: true, value: null}
    }

    case 'delete': {
      return {ok: true, value: await entry.deleteCredential()}
    }
  }
}

const chunks: Buffer[] = []
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk))
process.stdin.on('end', () => {
  handle(JSON.parse(Buffer.concat(chunks).toString('utf8')) as KeychainRequest)
    .catch((error: unknown): KeychainReply => ({ok: false, message: error instanceof Error ? error.message : String(error)}))
    .then((reply) => process.stdout.write(JSON.stringify(reply)))
})
