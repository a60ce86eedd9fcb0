import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {CapeError} from '../../issuer/errors.js'

export default class IssuerServe extends BaseCommand {
  static override enableJsonFlag = false
  static override summary = 'Run the issuer as an HTTP service: JWKS, introspection, revocation, tokens.'
  static override description = `Logs are JSON lines on stdout (pino), with tokens and Authorization headers redacted.
SIGTERM or SIGINT stops it gracefully: requests in flight finish, then the store is closed.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --host 0.0.0.0 --port 8080 --public-url https://cape.example.com',
  ]

  static override flags = {
    host: Flags.string({description: 'address to listen on', default: '127.0.0.1'}),
    port: Flags.integer({description: 'port to listen on (0: any free port)', default: 3000, min: 0, max: 65_535}),
    'public-url': Flags.string({description: 'the URL clients reach this server at (default: http://HOST:PORT)'}),
    'log-level': Flags.option({options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const, default: 'info'})(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(IssuerServe)
    const issuer = await this.issuer()
    // A server with no keys would refuse every token as unsupported_alg: set the issuer up first.
    const settings = (await issuer.settings()) ?? (await issuer.init())

    const {buildApp} = await import('../../server/app.js')
    let address = `http://${flags.host}:${flags.port}`
    const app = await buildApp({
      issuer,
      issuerIdentifier: settings.issuer,
      publicUrl: flags['public-url'] ?? (() => address),
      logger: {level: flags['log-level']},
    })

    try {
      address = await app.listen({host: flags.host, port: flags.port})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const reason = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : String(code)
      throw new CapeError('invalid_argument', `cannot listen on ${flags.host}:${flags.port}: ${reason}`, {cause: error})
    }

    process.stderr.write(`cape issuer listening on ${address}\n`)
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.stderr.write(`${signal}: finishing requests in flight, then stopping\n`)
        app.close().then(resolve, resolve)
      }

      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
    })
  }
}
