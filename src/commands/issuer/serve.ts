import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {CapeError} from '../../core/errors.js'
import {wording} from '../../core/wording.js'
import type {IssuerAdmin} from '../../issuer/types.js'
import {addressFlag, databaseUrlFlag, timeoutFlag} from '../../cli/flags.js'

export default class IssuerServe extends BaseCommand {
  static override enableJsonFlag = false
  static override summary = 'Run the issuer as an HTTP service: JWKS, introspection, revocation, tokens.'
  static override description = `Logs are JSON lines on stdout (pino), with tokens and Authorization headers redacted.
SIGTERM or SIGINT stops it gracefully: requests in flight finish, then the store is closed.
Prepared tokens (from "cape token export") in --prepared-token or CAPE_PREPARED_TOKEN (several: separated by
spaces or commas) are imported before it listens; one already imported is skipped, an invalid one stops the start.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --host 0.0.0.0 --port 8080 --public-url https://cape.example.com',
  ]

  static override flags = {
    host: Flags.string({description: 'address to listen on', default: '127.0.0.1'}),
    port: Flags.integer({description: 'port to listen on (0: any free port)', default: 3000, min: 0, max: 65_535}),
    'public-url': Flags.string({description: 'the URL clients reach this server at (default: http://HOST:PORT)'}),
    'log-level': Flags.option({options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const, default: 'info'})(),
    'trust-proxy': addressFlag({description: 'a proxy (address or CIDR range) whose X-Forwarded-For gives the client address (repeatable)'}),
    'request-timeout': timeoutFlag({description: 'a request (headers and body) taking longer is cut off [default: 30s]', helpGroup: 'LIMITS'}),
    'headers-timeout': timeoutFlag({description: "a request's headers taking longer are cut off [default: 10s]", helpGroup: 'LIMITS'}),
    'keep-alive-timeout': timeoutFlag({description: 'an idle kept-alive connection is closed after this [default: 5s]', helpGroup: 'LIMITS'}),
    'idle-timeout': timeoutFlag({description: 'a connection on which nothing moves is closed after this [default: 60s]', helpGroup: 'LIMITS'}),
    'max-connections': Flags.integer({description: 'connections beyond this many are refused [default: 1024]', min: 1, max: 1_000_000, helpGroup: 'LIMITS'}),
    'prepared-token': Flags.string({
      description: 'a bundle from "cape token export" to import at start-up (repeatable; also CAPE_PREPARED_TOKEN)',
      multiple: true,
    }),
    'database-url': databaseUrlFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(IssuerServe)
    const issuer = await this.issuer(flags['database-url'])
    // A server with no keys would refuse every token as unsupported_alg: set the issuer up first.
    const settings = (await issuer.settings()) ?? (await issuer.init())
    await this.importPrepared(issuer, [
      ...(flags['prepared-token'] ?? []).map((bundle) => ({bundle, from: '--prepared-token'})),
      ...splitBundles(process.env.CAPE_PREPARED_TOKEN).map((bundle) => ({bundle, from: 'CAPE_PREPARED_TOKEN'})),
    ])

    const {buildApp} = await import('../../server/app.js')
    let address = `http://${flags.host}:${flags.port}`
    const app = await buildApp({
      issuer,
      issuerIdentifier: settings.issuer,
      audience: settings.audience,
      publicUrl: flags['public-url'] ?? (() => address),
      logger: {level: flags['log-level']},
      trustProxy: flags['trust-proxy'],
      limits: {
        requestTimeoutMs: milliseconds(flags['request-timeout']),
        headersTimeoutMs: milliseconds(flags['headers-timeout']),
        keepAliveTimeoutMs: milliseconds(flags['keep-alive-timeout']),
        idleTimeoutMs: milliseconds(flags['idle-timeout']),
        maxConnections: flags['max-connections'],
      },
    })

    try {
      address = await app.listen({host: flags.host, port: flags.port})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const reason = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : String(code)
      throw new CapeError('invalid_argument', `cannot listen on ${flags.host}:${flags.port}: ${reason}`, {cause: error})
    }

    await issuer.announce()
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

  /** Every bundle is imported before the server listens; the first bad one stops the start. */
  private async importPrepared(issuer: Pick<IssuerAdmin, 'importToken'>, bundles: readonly {bundle: string; from: string}[]): Promise<void> {
    for (const {bundle, from} of bundles) {
      const result = await issuer.importToken(bundle).catch((error: unknown) => {
        if (error instanceof CapeError) throw new CapeError(error.code, wording`${from}: ${error.wording}`, {cause: error})
        throw error
      })
      const {name, id, status} = result.token
      process.stderr.write(
        result.imported
          ? `imported prepared token "${name}" (${id})\n`
          : `prepared token "${name}" (${id}) was already imported${status === 'active' ? '' : ` and is ${status}`}\n`,
      )
    }
  }
}

const milliseconds = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000)

function splitBundles(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((bundle) => bundle.length > 0)
}
